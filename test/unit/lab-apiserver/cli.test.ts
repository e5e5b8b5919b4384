// The lab API server CLI: starts, prints its URL and kubeconfig path on stdout, serves, and exits on SIGTERM.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

describe('lab apiserver CLI', () => {
  it('prints url and kubeconfig, serves the API and stops on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lab-apiserver-cli-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'lab/apiserver/main.ts', '--listen', '127.0.0.1:0', '--state-dir', dir,
      '--plain-http', '--no-auth', '--service-cidr', '198.51.100.64/26'], { cwd: join(import.meta.dirname, '../../..'), stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      for (let i = 0; i < 300 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
      const started = JSON.parse(out.split('\n')[0] ?? '') as { url: string; kubeconfig: string };
      assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(await readFile(started.kubeconfig, 'utf8'), new RegExp(`server: ${started.url}`));
      const created = await fetch(`${started.url}/api/v1/namespaces/default/services`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }) });
      assert.equal(((await created.json()) as { spec: { clusterIP: string } }).spec.clusterIP, '198.51.100.65');
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit') as [number | null];
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
