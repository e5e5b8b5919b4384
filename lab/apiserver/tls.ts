// Certificates for the lab API server (a CA and a server certificate made with the openssl CLI) and the kubeconfig file.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isIp } from '../../src/net/ip.ts';
import { stringify } from 'yaml';

const run = promisify(execFile);

export interface ServerCertificates { caPath: string; certPath: string; keyPath: string; ca: string; cert: string; key: string }

/** Makes a fresh CA and a server certificate valid for 127.0.0.1, localhost, the kubernetes service names and `hosts`. */
export async function makeServerCertificates(dir: string, hosts: readonly string[]): Promise<ServerCertificates> {
  await mkdir(dir, { recursive: true });
  const caKey = join(dir, 'ca.key'), caPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'apiserver.key'), csrPath = join(dir, 'apiserver.csr'), certPath = join(dir, 'apiserver.crt');
  const extPath = join(dir, 'apiserver.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caPath, '-days', '3650', '-subj', '/CN=kube-router-lab-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', keyPath, '-out', csrPath, '-subj', '/CN=kube-apiserver']);
  const names = new Set(['127.0.0.1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local', ...hosts.filter((h) => h !== '0.0.0.0' && h !== '::' && h !== '')]);
  const san = [...names].map((n) => (isIp(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  await writeFile(extPath, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n`);
  await run('openssl', ['x509', '-req', '-in', csrPath, '-CA', caPath, '-CAkey', caKey, '-CAcreateserial', '-out', certPath,
    '-days', '365', '-extfile', extPath]);
  const [ca, cert, key] = await Promise.all([readFile(caPath, 'utf8'), readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { caPath, certPath, keyPath, ca, cert, key };
}

/** A client certificate for user "lab-admin" in group system:masters, signed by the lab CA in `dir`. */
export async function makeClientCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const keyPath = join(dir, 'admin.key'), csrPath = join(dir, 'admin.csr'), certPath = join(dir, 'admin.crt'), extPath = join(dir, 'admin.ext');
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', csrPath,
    '-subj', '/O=system:masters/CN=lab-admin']);
  await writeFile(extPath, 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n');
  await run('openssl', ['x509', '-req', '-in', csrPath, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial',
    '-out', certPath, '-days', '365', '-extfile', extPath]);
  const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
  return { cert, key };
}

export interface KubeconfigInput {
  server: string; caPem?: string; token?: string; namespace?: string;
  clientCert?: { cert: string; key: string };
}

/** Writes a kubeconfig with one cluster/user/context named "lab"; returns its path. */
export async function writeKubeconfig(path: string, input: KubeconfigInput): Promise<string> {
  const cluster: Record<string, unknown> = { server: input.server };
  if (input.caPem) cluster['certificate-authority-data'] = Buffer.from(input.caPem).toString('base64');
  const config = {
    apiVersion: 'v1', kind: 'Config', preferences: {},
    clusters: [{ name: 'lab', cluster }],
    users: [{ name: 'lab-admin', user: {
      ...(input.token ? { token: input.token } : {}),
      ...(input.clientCert ? { 'client-certificate-data': Buffer.from(input.clientCert.cert).toString('base64'),
        'client-key-data': Buffer.from(input.clientCert.key).toString('base64') } : {}),
    } }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab-admin', namespace: input.namespace ?? 'default' } }],
    'current-context': 'lab',
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}
