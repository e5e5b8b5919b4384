// Entry the lab runs in each node namespace: the product's own CLI main (src/cli/main.ts), so the lab starts
// exactly what `bin/kube-router.js` starts, from sources or from dist/ like the rest of the lab.
import { main } from '../../src/cli/main.ts';

await main(process.argv.slice(2));
