// gobgpd's log lines map to our levels and never carry a BGP password onwards; the command line is what we intend.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, parseGobgpdLogLine, SecretScrubber } from '../../../src/bgp/gobgpd-log.ts';
import { gobgpdApiHosts, gobgpdCommand } from '../../../src/bgp/gobgpd-supervisor.ts';
import { isOurGobgpd, pidFileFor } from '../../../src/bgp/gobgpd-lifetime.ts';

describe('gobgpd log lines', () => {
  const scrubber = new SecretScrubber();
  scrubber.add('s3cret-md5');

  const levels: [string, string][] = [['debug', 'debug'], ['info', 'info'], ['warning', 'warn'], ['error', 'error'], ['fatal', 'fatal'], ['panic', 'fatal']];
  for (const [logrus, ours] of levels) {
    it(`logrus level ${logrus} becomes ${ours}`, () => {
      const rec = parseGobgpdLogLine(JSON.stringify({ level: logrus, msg: 'm', time: 't', Topic: 'Peer' }), false, scrubber);
      assert.deepEqual(rec, { level: ours, msg: 'm', fields: { Topic: 'Peer' } });
    });
  }

  it('removes configured passwords wherever they appear and any field named like a password', () => {
    const line = JSON.stringify({
      level: 'info', msg: 'peer config s3cret-md5', time: 't', Key: '198.51.100.2',
      Config: { AuthPassword: 'other', Description: 'uses s3cret-md5' }, Data: 'auth-password = "third"',
    });
    const rec = parseGobgpdLogLine(line, false, scrubber);
    const text = JSON.stringify(rec);
    for (const secret of ['s3cret-md5', 'other', 'third']) assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
    assert.equal(rec?.fields['Key'], '198.51.100.2');
  });

  it('plain stderr text (a Go panic) is an error, stdout text is info, blank lines are dropped', () => {
    assert.deepEqual(parseGobgpdLogLine('panic: runtime error', true, scrubber), { level: 'error', msg: 'panic: runtime error', fields: {} });
    assert.deepEqual(parseGobgpdLogLine('{not json', false, scrubber), { level: 'info', msg: '{not json', fields: {} });
    assert.equal(parseGobgpdLogLine('   ', false, scrubber), undefined);
  });

  it('splits a chunked stream into whole lines', () => {
    const splitter = new LineSplitter();
    assert.deepEqual(splitter.push('a\nb'), ['a']);
    assert.deepEqual(splitter.push('c\n\nd'), ['bc', '']);
    assert.deepEqual(splitter.flush(), ['d']);
    assert.deepEqual(splitter.flush(), []);
  });
});

describe('gobgpd command line', () => {
  it('always serves our unix socket; admin port 0 opens no TCP listener', () => {
    assert.equal(gobgpdApiHosts({ socketPath: '/run/kube-router/gobgpd.sock', adminPort: 0 }), 'unix:///run/kube-router/gobgpd.sock');
  });

  it('the default admin address is 127.0.0.1 only', () => {
    assert.equal(gobgpdApiHosts({ socketPath: '/s', adminPort: 50051 }), 'unix:///s,127.0.0.1:50051');
  });

  it('a non-loopback admin address also binds 127.0.0.1 (upstream behaviour); IPv6 is bracketed', () => {
    assert.equal(gobgpdApiHosts({ socketPath: '/s', adminAddress: '198.51.100.1', adminPort: 50051 }), 'unix:///s,127.0.0.1:50051,198.51.100.1:50051');
    assert.equal(gobgpdApiHosts({ socketPath: '/s', adminAddress: '2001:db8::1', adminPort: 50051 }), 'unix:///s,127.0.0.1:50051,[2001:db8::1]:50051');
  });

  it('a wildcard admin address is not combined with 127.0.0.1 (it would fail with EADDRINUSE)', () => {
    assert.equal(gobgpdApiHosts({ socketPath: '/s', adminAddress: '0.0.0.0', adminPort: 50051 }), 'unix:///s,0.0.0.0:50051');
  });

  it('runs gobgpd without a config file and without pprof, inside the namespace when one is given', () => {
    assert.deepEqual(gobgpdCommand({ socketPath: '/s', adminPort: 0, logLevel: 'info' }), {
      file: 'gobgpd', args: ['--api-hosts', 'unix:///s', '--pprof-disable', '--log-level', 'info'],
    });
    assert.deepEqual(gobgpdCommand({ socketPath: '/s', adminPort: 0, netns: 'krt-bgp-1', binary: '/usr/sbin/gobgpd', logLevel: 'debug' }), {
      file: 'ip', args: ['netns', 'exec', 'krt-bgp-1', '/usr/sbin/gobgpd', '--api-hosts', 'unix:///s', '--pprof-disable', '--log-level', 'debug'],
    });
  });

  it('asks the kernel to SIGKILL gobgpd when kube-router dies, through setpriv, outermost so it covers ip netns exec', () => {
    assert.deepEqual(gobgpdCommand({ socketPath: '/s', adminPort: 0, netns: 'krt-bgp-1', logLevel: 'info' }, '/usr/bin/setpriv'), {
      file: '/usr/bin/setpriv',
      args: ['--pdeathsig', 'KILL', 'ip', 'netns', 'exec', 'krt-bgp-1', 'gobgpd', '--api-hosts', 'unix:///s', '--pprof-disable', '--log-level', 'info'],
    });
  });

  it('recognises a gobgpd as ours only by its binary name and our API socket first in --api-hosts', () => {
    const ours = ['gobgpd', '--api-hosts', 'unix:///run/kube-router/gobgpd-n1.sock,127.0.0.1:50051', '--pprof-disable'];
    assert.equal(isOurGobgpd(ours, 'gobgpd', '/run/kube-router/gobgpd-n1.sock'), true);
    assert.equal(isOurGobgpd(['/usr/sbin/gobgpd', ...ours.slice(1)], 'gobgpd', '/run/kube-router/gobgpd-n1.sock'), true);
    assert.equal(isOurGobgpd(ours, 'gobgpd', '/run/kube-router/gobgpd-n2.sock'), false, 'another node\'s daemon');
    assert.equal(isOurGobgpd(['gobgpd', '--api-hosts', '127.0.0.1:50051,unix:///run/kube-router/gobgpd-n1.sock'], 'gobgpd', '/run/kube-router/gobgpd-n1.sock'), false);
    assert.equal(isOurGobgpd(['gobgpd', '-f', '/etc/gobgpd.conf'], 'gobgpd', '/run/kube-router/gobgpd-n1.sock'), false, 'an operator\'s gobgpd');
    assert.equal(isOurGobgpd(['sleep', '--api-hosts', 'unix:///run/kube-router/gobgpd-n1.sock'], 'gobgpd', '/run/kube-router/gobgpd-n1.sock'), false);
    assert.equal(pidFileFor('/run/kube-router/gobgpd-n1.sock'), '/run/kube-router/gobgpd-n1.pid');
  });
});
