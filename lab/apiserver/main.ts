// CLI for manual use: node --import tsx lab/apiserver/main.ts --listen 127.0.0.1:6443 --state-dir DIR
import { Command } from 'commander';
import { startLabApiServer } from './server.ts';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const program = new Command('lab-apiserver')
  .description('Kubernetes-compatible API server for the kube-router lab (in-memory, with lab control loops)')
  .option('--listen <host:port>', 'listen address (repeatable)', collect, [])
  .requiredOption('--state-dir <dir>', 'directory for certificates and the kubeconfig')
  .option('--plain-http', 'serve plain HTTP instead of HTTPS')
  .option('--token <token>', 'bearer token clients must send (default: random)')
  .option('--no-auth', 'no bearer token (with --client-cert-auth: certificates only; else no authentication)')
  .option('--client-cert-auth', 'accept client certificates signed by the lab CA; the kubeconfig carries one')
  .option('--cluster-cidr <cidr>', 'pod CIDR pool (repeatable, one per family)', collect, [])
  .option('--service-cidr <cidr>', 'service ClusterIP range (repeatable, one per family)', collect, [])
  .option('--san <name>', 'extra name or IP for the server certificate (repeatable)', collect, [])
  .option('--advertise-address <ip>', 'publish default/kubernetes pointing at this address')
  .option('--no-controllers', 'do not run the lab control loops');

program.parse();
const opts = program.opts<{
  listen: string[]; stateDir: string; plainHttp?: boolean; token?: string; auth: boolean;
  clusterCidr: string[]; serviceCidr: string[]; san: string[]; controllers: boolean; advertiseAddress?: string; clientCertAuth?: boolean;
}>();

const server = await startLabApiServer({
  listen: opts.listen.length ? opts.listen : ['127.0.0.1:6443'],
  stateDir: opts.stateDir,
  ...(opts.plainHttp ? { plainHttp: true } : {}),
  token: opts.auth ? opts.token ?? undefined : false,
  extraSans: opts.san,
  ...(opts.clientCertAuth ? { clientCertAuth: true } : {}),
  ...(opts.advertiseAddress ? { advertiseAddress: opts.advertiseAddress } : {}),
  controllers: opts.controllers ? {
    ...(opts.clusterCidr.length ? { clusterCidrs: opts.clusterCidr } : {}),
    ...(opts.serviceCidr.length ? { serviceCidrs: opts.serviceCidr } : {}),
  } : false,
});
process.stdout.write(`${JSON.stringify({ url: server.url, urls: server.urls, kubeconfig: server.kubeconfigPath })}\n`);
const shutdown = (): void => { void server.stop().then(() => process.exit(0)); };
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
