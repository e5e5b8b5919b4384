#!/usr/bin/env node
// Launcher for the compiled daemon (npm run build writes dist/).
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2)));
