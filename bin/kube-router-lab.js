#!/usr/bin/env node
// Launcher for the compiled lab CLI (npm run build writes dist/).
import('../dist/lab/cli/main.js').then((m) => m.main(process.argv.slice(2)));
