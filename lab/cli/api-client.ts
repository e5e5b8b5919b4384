// Minimal read-only client the CLI uses against a running lab (status, demo checks): GET a path with the
// lab kubeconfig's CA and bearer token. kubectl stays the tool for everything a user would type.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { parse } from 'yaml';

interface KubeconfigView {
  clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
  users?: { user?: { token?: string } }[];
}

export interface LabApiClient {
  getJson<T>(path: string): Promise<T>;
}

export function labApiClient(kubeconfigPath: string): LabApiClient {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as KubeconfigView;
  const cluster = config.clusters?.[0]?.cluster;
  const token = config.users?.[0]?.user?.token;
  if (!cluster?.server) throw new Error(`${kubeconfigPath} names no server`);
  const ca = cluster['certificate-authority-data'] ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString() : undefined;
  const server = cluster.server;
  return {
    getJson: <T>(path: string) => new Promise<T>((resolve, reject) => {
      const req = request(new URL(path, server), {
        // no connection reuse: a kept-alive socket the server is just closing fails the request (ECONNRESET)
        method: 'GET', agent: false, ...(ca ? { ca } : {}), headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => {
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`GET ${path}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
          else resolve(JSON.parse(body) as T);
        });
      });
      req.setTimeout(5000, () => req.destroy(new Error(`GET ${path}: timed out`)));
      req.on('error', reject);
      req.end();
    }),
  };
}
