// The `kube-router-lab` command: up | down | status | kubeconfig | exec | probe | demo | vm-run.
// Exported main(argv) is what bin/kube-router-lab.js calls (argv without node and script).
import { parseArgs } from 'node:util';
import { DEFAULT_EXTERNAL_IP_RANGE, DEFAULT_LOADBALANCER_IP_RANGE, DEFAULT_PREFIX, type ClusterOptions } from '../cluster/layout.ts';
import { DEFAULT_CLUSTER_CIDRS, DEFAULT_SERVICE_CIDRS } from '../controllers/index.ts';
import { DEFAULT_UNDERLAY_CIDR } from '../netns/topology.ts';
import { runDemo } from '../demo/demo.ts';
import { execInLab, probeBatch, probeOnce, status } from './inspect.ts';
import { requireLab, stateDirOf, UsageError } from './lab-ref.ts';
import { down, up, upSummary } from './up-down.ts';
import { vmRun } from './vm-run.ts';
import { DEFAULT_IMAGE_DIR, loadImage } from '../kubelet/image-store.ts';

const USAGE = `usage: kube-router-lab COMMAND [options]   (every command takes --state-dir DIR, default .lab)
  up [--nodes N] [--cluster-cidr CIDR] [--service-cidr CIDR] [--underlay CIDR] [--kube-router-args="--flag ..."]
     [--external-ip-range CIDR] [--loadbalancer-ip-range CIDR] [--no-kube-router] [--static-routes] [--prefix P]
                                             start a lab cluster in the background
  up --vm [up flags] [-- CMD [ARGS...]]      the whole lab inside the Debian-kernel VM: up, CMD (default: status), down
  down                                       stop it and remove every namespace, process and file it made
  status                                     nodes, pods per node, kube-router health per node
  kubeconfig                                 print the kubeconfig path (kubectl --kubeconfig "$(kube-router-lab kubeconfig)")
  exec NS/POD|node/NAME|external -- CMD [ARGS...]   run a command in a pod's, node's or the external client's namespace
  probe FROM HOST PORT [tcp|udp|sctp] [--timeout 1s]   connect once from NS/POD, node/NAME or external;
                                             prints the answering pod and "client ADDRESS PORT" as it saw us
  probe --batch [--timeout 1s]               JSON lines {"from","host","port","protocol"?} in, results out
  demo [--prefix P] [--nodes N]              up --nodes 3 with kube-router, then show what works today (the Service
                                             part in the Debian-kernel VM when this kernel has no IPVS)
  demo --services-only [--step N]            only the workload and the ClusterIP + NodePort steps (what the demo
                                             runs in the VM; e.g. up --vm -- kube-router-lab demo --services-only)
  vm-run [--timeout 600s] -- CMD [ARGS...]   run a command (e.g. a test doing up/down) in the Debian-kernel VM
  image load ARCHIVE [--tag T] [--as REF] [--image-dir D]   unpack an OCI archive into the lab image store
                                             (default dir $KUBE_ROUTER_LAB_IMAGE_DIR or ${DEFAULT_IMAGE_DIR});
                                             hostNetwork pods whose image: is loaded run from it`;

const STATE_DIR = { 'state-dir': { type: 'string' } } as const;

export function upOptionsFrom(args: string[]): ClusterOptions & { vm: boolean } {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      ...STATE_DIR,
      nodes: { type: 'string', default: '3' },
      'cluster-cidr': { type: 'string', default: DEFAULT_CLUSTER_CIDRS[0]! },
      'service-cidr': { type: 'string', default: DEFAULT_SERVICE_CIDRS[0]! },
      underlay: { type: 'string', default: DEFAULT_UNDERLAY_CIDR },
      'kube-router-args': { type: 'string', default: '' },
      'no-kube-router': { type: 'boolean', default: false },
      'static-routes': { type: 'boolean', default: false },
      'external-ip-range': { type: 'string', default: DEFAULT_EXTERNAL_IP_RANGE },
      'loadbalancer-ip-range': { type: 'string', default: DEFAULT_LOADBALANCER_IP_RANGE },
      prefix: { type: 'string', default: DEFAULT_PREFIX },
      vm: { type: 'boolean', default: false },
    },
  });
  const nodes = Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new UsageError(`--nodes must be 1..50, got ${values.nodes}`);
  return {
    stateDir: stateDirOf(values['state-dir']),
    prefix: values.prefix,
    nodes,
    clusterCidr: values['cluster-cidr'],
    serviceCidr: values['service-cidr'],
    underlayCidr: values.underlay,
    kubeRouter: !values['no-kube-router'],
    kubeRouterArgs: values['kube-router-args'].split(/\s+/).filter((a) => a !== ''),
    staticRoutes: values['static-routes'],
    externalIpRange: values['external-ip-range'],
    loadBalancerIpRange: values['loadbalancer-ip-range'],
    vm: values.vm,
  };
}

/**
 * `up --vm [flags] [-- CMD...]`: the VM lives as long as one command (it has no network device the host could
 * reach), so the whole lab runs inside it for one workload: up with the same flags, CMD (default: status)
 * against it, then down; the exit code is CMD's (or up's, if up failed).
 */
function upInVm(upArgs: string[], workload: string[]): Promise<number> {
  const lab = `node ${JSON.stringify(new URL('../../bin/kube-router-lab.js', import.meta.url).pathname.replace('/dist/bin/', '/bin/'))}`;
  const quoted = (args: string[]) => args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const stateDir = '/tmp/kube-router-lab';
  // the VM's state directory is its own: drop --state-dir=X and --state-dir X
  const flags = upArgs.filter((a, i) => !a.startsWith('--state-dir') && upArgs[i - 1] !== '--state-dir');
  const command = workload.length > 0 ? quoted(workload) : `${lab} status --state-dir ${stateDir}`;
  const script = `${lab} up --state-dir ${stateDir} ${quoted(flags)} || exit $?; ${command}; rc=$?; ${lab} down --state-dir ${stateDir}; exit $rc`;
  // under TCG, up with kube-router alone takes 2-4 minutes on a loaded 2-core host
  return vmRun(['sh', '-c', script], '1200s');
}

/** Splits "... -- cmd args" into the options part and the command. */
function splitAtDashes(args: string[]): [string[], string[]] {
  const i = args.indexOf('--');
  return i < 0 ? [args, []] : [args.slice(0, i), args.slice(i + 1)];
}

async function dispatch(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'up': {
      const [upArgs, workload] = splitAtDashes(args);
      const { vm, ...options } = upOptionsFrom(upArgs);
      if (vm) return upInVm(upArgs.filter((a) => a !== '--vm'), workload);
      process.stdout.write(upSummary(await up(options)) + '\n');
      return 0;
    }
    case 'down': {
      const { values } = parseArgs({ args, strict: true, options: { ...STATE_DIR, prefix: { type: 'string' } } });
      const result = await down({ stateDir: stateDirOf(values['state-dir']), ...(values.prefix ? { prefix: values.prefix } : {}) });
      if (result.leftNamespaces.length > 0) {
        process.stderr.write(`namespaces left behind: ${result.leftNamespaces.join(', ')}\n`);
        return 1;
      }
      process.stdout.write(result.removed ? 'lab removed\n' : 'no lab was up\n');
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args, strict: true, options: STATE_DIR });
      process.stdout.write((await status(requireLab(values['state-dir']))) + '\n');
      return 0;
    }
    case 'kubeconfig': {
      const { values } = parseArgs({ args, strict: true, options: STATE_DIR });
      process.stdout.write(`${requireLab(values['state-dir']).record.kubeconfig ?? ''}\n`);
      return 0;
    }
    case 'exec': {
      const [before, argv] = splitAtDashes(args);
      const { values, positionals } = parseArgs({ args: before, strict: true, allowPositionals: true, options: STATE_DIR });
      if (positionals.length !== 1) throw new UsageError('usage: kube-router-lab exec NS/POD|node/NAME|external -- COMMAND [ARGS...]');
      return execInLab(requireLab(values['state-dir']), positionals[0]!, argv);
    }
    case 'probe': {
      const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true,
        options: { ...STATE_DIR, timeout: { type: 'string' }, batch: { type: 'boolean', default: false } } });
      const lab = requireLab(values['state-dir']);
      return values.batch ? probeBatch(lab, values.timeout) : probeOnce(lab, positionals, values.timeout);
    }
    case 'demo': {
      const { values } = parseArgs({ args, strict: true, options: {
        ...STATE_DIR, prefix: { type: 'string', default: DEFAULT_PREFIX }, 'services-only': { type: 'boolean', default: false },
        nodes: { type: 'string', default: '3' }, step: { type: 'string', default: '1' },
      } });
      const nodes = Number(values.nodes);
      const step = Number(values.step);
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50) throw new UsageError(`--nodes must be 1..50, got ${values.nodes}`);
      if (!Number.isInteger(step) || step < 1) throw new UsageError(`--step must be a positive integer, got ${values.step}`);
      return runDemo({ stateDir: stateDirOf(values['state-dir']), prefix: values.prefix, nodes, servicesOnly: values['services-only'], firstStep: step });
    }
    case 'vm-run': {
      const [before, argv] = splitAtDashes(args);
      const { values } = parseArgs({ args: before, strict: true, options: { timeout: { type: 'string' } } });
      return vmRun(argv, values.timeout);
    }
    case 'image': {
      const { values, positionals } = parseArgs({ args, strict: true, allowPositionals: true,
        options: { tag: { type: 'string' }, as: { type: 'string' }, 'image-dir': { type: 'string' } } });
      if (positionals[0] !== 'load' || positionals.length !== 2) throw new UsageError('usage: kube-router-lab image load ARCHIVE [--tag T] [--as REF] [--image-dir D]');
      const loaded = await loadImage(positionals[1]!, {
        ...(values.tag !== undefined ? { tag: values.tag } : {}), ...(values.as !== undefined ? { reference: values.as } : {}),
        ...(values['image-dir'] !== undefined ? { dir: values['image-dir'] } : {}),
      });
      if (!loaded.ok) { process.stderr.write(`${loaded.error}\n`); return 1; }
      process.stdout.write(`loaded ${loaded.value.reference} (${loaded.value.digest})\n`);
      return 0;
    }
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE + '\n');
      return 0;
    default:
      throw new UsageError(`unknown command ${command}\n${USAGE}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  try {
    process.exitCode = await dispatch(command, args);
  } catch (e) {
    const usage = e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`kube-router-lab: ${(e as Error).message}\n`);
    process.exitCode = usage ? 2 : 1;
  }
}
