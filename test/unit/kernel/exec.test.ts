// The exec layer with real processes (no root): success and stdin (spooled, piped, streamed while the caller
// works), and each failure kind classified where the tool runs — a missing binary, an exit status with its stderr, the xtables lock, a named object that does not
// exist, and a timeout that kills the tool.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyFailure, processExec, StreamedInput, withMessage, type ExecError } from '../../../src/kernel/exec.ts';

const exec = processExec();

async function failure(tool: string, args: string[], options = {}): Promise<ExecError> {
  const r = await exec.run(tool, args, options);
  assert.ok(!r.ok, `${tool} should have failed`);
  return r.error;
}

/** A script named `name` in a fresh directory (tools are classified by their name). */
function script(name: string, body: string): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'krt-exec-'));
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

test('a successful run returns stdout, with stdin fed from input, and counts the process', async () => {
  const before = exec.count;
  const r = await exec.run('sh', ['-c', 'tr a-z A-Z'], { input: 'hello\n' });
  assert.deepEqual(r, { ok: true, value: 'HELLO\n' });
  assert.equal(exec.count, before + 1);
});

test('input of many chunks reaches the tool whole, pulled lazily, with no file left behind', async () => {
  const spoolDir = mkdtempSync(join(tmpdir(), 'krt-spool-'));
  const lines = 200_000;
  let pulled = 0;
  const chunks = (function* () {
    for (let i = 0; i < lines; i += 1000) {
      pulled++;
      yield Array.from({ length: 1000 }, (_, j) => `line ${i + j}`).join('\n') + '\n';
    }
  })();
  const spooled = processExec();
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = spoolDir;
  try {
    // The tool sees every line in order and its stdin ends (wc exits), whatever the chunking.
    const r = await spooled.run('sed', ['-n', '1p;${p;=}'], { input: chunks });
    assert.deepEqual(r, { ok: true, value: `line 0\nline ${lines - 1}\n${lines}\n` });
    assert.equal(pulled, lines / 1000);
    assert.deepEqual(readdirSync(spoolDir), [], 'the temporary input is unlinked');
    // A tool that never reads its input still finishes.
    assert.deepEqual(await spooled.run('sh', ['-c', 'echo ok'], { input: ['a\n', 'b\n'][Symbol.iterator]() }), { ok: true, value: 'ok\n' });
    // With no writable temporary directory (a read-only root filesystem) the chunks go through a pipe instead.
    process.env.TMPDIR = join(spoolDir, 'missing');
    const piped = await spooled.run('sed', ['-n', '1p;${p;=}'], { input: (function* () { for (let i = 0; i < 300; i++) yield `${'x'.repeat(60_000)} ${i}\n`; })() });
    assert.deepEqual(piped, { ok: true, value: `${'x'.repeat(60_000)} 0\n${'x'.repeat(60_000)} 299\n300\n` });
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(spoolDir, { recursive: true, force: true });
  }
});

test('a streamed input reaches the tool as it is pushed, while the caller holds the event loop', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-stream-'));
  const out = join(dir, 'got');
  try {
    const input = new StreamedInput();
    input.push('before the start\n');
    const run = exec.run('sh', ['-c', `cat > ${out}; echo done`], { input });
    // Synchronous from here to the end of the loop: no event-loop turn, as in a plan being made.
    input.push('first\n');
    const deadline = Date.now() + 10_000;
    const seen = (): string => { try { return readFileSync(out, 'utf8'); } catch { return ''; } };
    while (!seen().includes('first') && Date.now() < deadline) { /* the tool reads on its own */ }
    assert.equal(seen(), 'before the start\nfirst\n', 'the tool had the text before the caller let the loop run');
    // More than the pipe takes at once: the rest waits for the loop, in order, without holding all of it.
    await input.pushAll((function* () { for (let i = 0; i < 64; i++) yield `${String(i).padStart(4, '0')}${'y'.repeat(64 * 1024)}\n`; })());
    input.end();
    assert.deepEqual(await run, { ok: true, value: 'done\n' });
    const lines = readFileSync(out, 'utf8').split('\n');
    assert.equal(lines.length, 2 + 64 + 1);
    assert.deepEqual(lines.slice(2, 66).map((l) => l.slice(0, 4)), Array.from({ length: 64 }, (_, i) => String(i).padStart(4, '0')));
    assert.throws(() => input.push('late\n'), /ended/);
    // A tool that stops reading (exits) does not stall the producer.
    const gone = new StreamedInput();
    const quick = exec.run('sh', ['-c', 'exit 3'], { input: gone });
    const failed = await quick;
    assert.ok(!failed.ok && failed.error.status === 3);
    await gone.pushAll(Array.from({ length: 40 }, () => 'z'.repeat(64 * 1024)));
    gone.end();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing binary is tool-not-found, whether the spawn fails or a shell exits 127', async () => {
  const spawned = await failure('krt-no-such-tool', ['x']);
  assert.equal(spawned.kind, 'tool-not-found');
  assert.equal(spawned.tool, 'krt-no-such-tool');
  const shell = await failure('sh', ['-c', 'exit 127']);
  assert.equal(shell.kind, 'tool-not-found');
});

test('a plain non-zero exit is exit, with its status and stderr', async () => {
  const e = await failure('sh', ['-c', 'echo "it broke" >&2; exit 3']);
  assert.equal(e.kind, 'exit');
  assert.equal(e.status, 3);
  assert.equal(e.stderr, 'it broke\n');
  assert.equal(e.message, 'sh -c echo "it broke" >&2; exit 3 exited 3: it broke');
  const four = await failure('sh', ['-c', 'exit 4']);
  assert.deepEqual([four.kind, four.status], ['exit', 4]);
});

test('the xtables lock is told by what iptables says, not by exit 4 alone', async () => {
  const locked = script('iptables-restore', 'echo "Another app is currently holding the xtables lock. Stopped waiting after 5s." >&2; exit 4');
  // iptables-nft-restore exits 4 too when the kernel refuses a rule: retrying would not help.
  const refused = script('iptables-nft-restore', 'echo "line 9: RULE_APPEND failed (No such file or directory): rule in chain POSTROUTING" >&2; exit 4');
  try {
    const e = await failure(locked.path, ['-w', '--noflush'], { input: '*filter\nCOMMIT\n' });
    assert.deepEqual([e.kind, e.status], ['xtables-lock', 4]);
    const r = await failure(refused.path, ['-w', '--noflush'], { input: '*nat\nCOMMIT\n' });
    assert.deepEqual([r.kind, r.status], ['exit', 4]);
  } finally {
    locked.cleanup();
    refused.cleanup();
  }
  const said = await failure('sh', ['-c', 'echo "Another app is currently holding the xtables lock. Perhaps you want to use the -w option?" >&2; exit 4']);
  assert.equal(said.kind, 'xtables-lock');
});

test('a tool saying the object it was asked about does not exist is object-not-found', async () => {
  const nft = script('nft', 'echo "Error: No such file or directory" >&2; exit 1');
  const ipset = script('ipset', 'echo "ipset v7.17: The set with the given name does not exist" >&2; exit 1');
  try {
    assert.equal((await failure(nft.path, ['list', 'table', 'ip', 'x'])).kind, 'object-not-found');
    assert.equal((await failure(ipset.path, ['list', 'x'])).kind, 'object-not-found');
  } finally {
    nft.cleanup();
    ipset.cleanup();
  }
  // The same words from another tool say nothing about kernel objects.
  assert.equal((await failure('sh', ['-c', 'echo "No such file or directory" >&2; exit 1'])).kind, 'exit');
});

test('a run past its timeout is killed and reported as timeout', async () => {
  const start = Date.now();
  const e = await failure('sleep', ['5'], { timeoutMs: 200 });
  assert.equal(e.kind, 'timeout');
  assert.equal(e.status, undefined);
  assert.ok(Date.now() - start < 3000, 'did not wait for the tool to finish');
  // A shell's child holding the pipes open does not keep the run waiting either.
  const shell = await failure('sh', ['-c', 'sleep 5; true'], { timeoutMs: 200 });
  assert.equal(shell.kind, 'timeout');
  assert.ok(Date.now() - start < 4000);
});

test('ip netns exec reporting it could not exec the tool is tool-not-found', () => {
  const e = classifyFailure('nft', ['-f', '-'], { status: 1, stdout: '', stderr: 'exec of "nft" failed: No such file or directory\n' }, true);
  assert.equal(e.kind, 'tool-not-found');
  // Without the netns wrapper that text is the tool's own.
  assert.equal(classifyFailure('nft', ['-f', '-'], { status: 1, stdout: '', stderr: 'exec of "nft" failed: No such file or directory\n' }).kind, 'object-not-found');
});

test('withMessage turns a typed failure into its one-line message and leaves success alone', async () => {
  assert.deepEqual(withMessage(await exec.run('sh', ['-c', 'echo a; echo b >&2; exit 2'])), { ok: false, error: 'sh -c echo a; echo b >&2; exit 2 exited 2: b' });
  assert.deepEqual(withMessage(await exec.run('true', [])), { ok: true, value: '' });
});
