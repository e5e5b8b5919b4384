// Runs the lab CLI from sources: `node --import tsx lab/cli/run.ts up ...` (bin/kube-router-lab.js runs dist/).
import { main } from './main.ts';

await main(process.argv.slice(2));
