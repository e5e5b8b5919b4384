// Test fixture: a throwaway CA with server and client certificates made by the openssl CLI, and HTTPS
// loopback servers that answer every request with what they learned about the caller.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** Paths of PEM files inside dir. */
  caCert: string;
  serverIpCert: string;
  serverIpKey: string;
  serverDnsCert: string;
  serverDnsKey: string;
  clientCert: string;
  clientKey: string;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function issue(dir: string, name: string, subject: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'kube-pki-'));
  openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-ca', '-days', '1'], dir);
  issue(dir, 'server-ip', '/CN=apiserver', 'subjectAltName=IP:127.0.0.1');
  issue(dir, 'server-dns', '/CN=apiserver', 'subjectAltName=DNS:kube.test');
  issue(dir, 'client', '/CN=kube-router-test', 'extendedKeyUsage=clientAuth');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p('ca.crt'),
    serverIpCert: p('server-ip.crt'),
    serverIpKey: p('server-ip.key'),
    serverDnsCert: p('server-dns.crt'),
    serverDnsKey: p('server-dns.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface SeenCaller {
  clientCN: string | undefined;
  authorization: string | undefined;
}

export interface TestHttpsServer {
  url: string;
  seen: SeenCaller[];
  close(): Promise<void>;
}

/** An HTTPS server; with requireClientCert it refuses TLS handshakes without a certificate from the CA. */
export async function startHttps(opts: { cert: string; key: string; ca: string; requireClientCert: boolean }): Promise<TestHttpsServer> {
  const seen: SeenCaller[] = [];
  const server: Server = createServer(
    {
      cert: readFileSync(opts.cert),
      key: readFileSync(opts.key),
      ca: readFileSync(opts.ca),
      requestCert: opts.requireClientCert,
      rejectUnauthorized: opts.requireClientCert,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const cn = peer?.subject?.CN;
      const caller = { clientCN: Array.isArray(cn) ? cn[0] : cn, authorization: req.headers.authorization };
      seen.push(caller);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Namespace', metadata: { name: caller.clientCN ?? 'anonymous' } }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
