// berthd as a user meets it: flags, its socket, its lock, daemon.json, version and info
// through the real Docker CLI, the raw HTTP conventions, and a clean shutdown.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, repoRoot, runBerthd, startDaemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';

const skip = e2eSkipReason();

const FLAGS = ['-H', '--host', '--data-root', '--exec-root', '--pidfile', '--config-file',
  '--log-level', '--cgroup-parent', '--registry-loopback-only', '--debug', '--label', '--live-restore',
  '--metrics-addr', '--validate', '--insecure-registry', '--registry-mirror', '--max-concurrent-downloads',
  '--max-concurrent-uploads', '--log-driver', '--log-opt', '--default-ulimit', '--bip', '--default-address-pool'];

/** The host's cgroup version as Docker reports it: 2 only on a unified /sys/fs/cgroup. */
function hostCgroupVersion(): string {
  const unified = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .some((l) => l.split(' ')[4] === '/sys/fs/cgroup' && l.split(' - ')[1]?.startsWith('cgroup2 '));
  return unified ? '2' : '1';
}

t.test('berthd --help lists every flag', { skip }, async (t) => {
  const r = await runBerthd(['--help']);
  t.equal(r.code, 0, r.stderr);
  for (const f of FLAGS) t.match(r.stdout, new RegExp(`(^|[\\s,])${f}[\\s,=]`, 'm'), `--help mentions ${f}`);
});

t.test('npm start passes flags through to berthd', { skip }, async (t) => {
  const r = spawnSync('npm', ['start', '--silent', '--', '--help'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  for (const f of FLAGS) t.match(r.stdout, f);
});

t.test('the socket is mode 0660 and one log line says where berthd listens', { skip }, async (t) => {
  const d = await startDaemon(t);
  const st = statSync(d.socket);
  t.ok(st.isSocket(), 'a unix socket');
  t.equal((st.mode & 0o777).toString(8), '660');
  t.equal(readFileSync(d.pidfile, 'utf8').trim(), String(d.pid), 'the pid file holds berthd\'s pid');
  t.match(d.output(), `listening on unix://${d.socket}`);
});

t.test('exactly one log line mentions the listening socket', { skip }, async (t) => {
  const d = await startDaemon(t);
  const lines = d.output().split('\n').filter((l) => l.includes(d.socket) && /listen/i.test(l));
  t.equal(lines.length, 1, lines.join('\n'));
});

t.test('a second berthd on the same data root refuses, naming the lock; the first keeps serving', { skip }, async (t) => {
  const d = await startDaemon(t);
  const second = await runBerthd([
    '-H', `unix://${join(d.dir, 'd2.sock')}`,
    '--data-root', d.dataRoot,
    '--exec-root', join(d.dir, 'exec2'),
    '--pidfile', join(d.dir, 'd2.pid'),
    '--cgroup-parent', d.cgroupParent,
  ]);
  t.not(second.code, 0, 'exits non-zero');
  t.match(second.stderr, /berth\.lock/, 'names the lock');
  t.match(second.stderr, new RegExp(d.dataRoot), 'names the data root');
  t.notOk(existsSync(join(d.dir, 'd2.sock')), 'made no socket');
  t.notOk(existsSync(join(d.dir, 'd2.pid')), 'wrote no pid file');
  const ping = await d.request('GET', '/_ping');
  t.equal(ping.status, 200, 'the first still answers');
  t.equal(readFileSync(d.pidfile, 'utf8').trim(), String(d.pid), 'its pid file is untouched');
  await dockerOk(d, ['version']);
});

t.test('two daemons with their own roots, sockets and cgroup parents run side by side', { skip }, async (t) => {
  const [a, b] = await Promise.all([startDaemon(t), startDaemon(t)]);
  t.not(a.cgroupParent, b.cgroupParent);
  const infoA = (await dockerOk(a, ['info', '-f', '{{.DockerRootDir}} {{.ID}}'])).stdout.trim().split(' ');
  const infoB = (await dockerOk(b, ['info', '-f', '{{.DockerRootDir}} {{.ID}}'])).stdout.trim().split(' ');
  t.equal(infoA[0], a.dataRoot);
  t.equal(infoB[0], b.dataRoot);
  t.not(infoA[1], infoB[1], 'each data root has its own engine ID');
});

t.test('daemon.json given with --config-file is honoured', { skip }, async (t) => {
  const d = await startDaemon(t, { daemonJson: { 'log-level': 'debug', 'live-restore': false } });
  const f = await dockerOk(d, ['info', '-f', '{{.Debug}} {{.LiveRestoreEnabled}}']);
  t.equal(f.stdout.trim(), 'true false');
  const info = await dockerOk(d, ['info']);
  t.match(info.stdout, /^ Live Restore Enabled: false$/m);
  // A setting given both as a flag and in the file is refused, as by dockerd (systemd.test.ts
  // covers the other daemon.json errors).
  const e = await runBerthd(['--config-file', join(d.dir, 'daemon.json'), '--log-level', 'warn', '--validate']);
  t.equal(e.code, 1);
  t.match(e.stderr, 'the following directives are specified both as a flag and in the configuration file: log-level: (from flag: warn, from file: debug)');
});

t.test('docker version shows Server: berth at API 1.45 (minimum 1.24)', { skip }, async (t) => {
  const d = await startDaemon(t);
  const r = await dockerOk(d, ['version']);
  t.match(r.stdout, /^Server: berth$/m);
  t.match(r.stdout, /^ {2}API version:\s+1\.45 \(minimum version 1\.24\)$/m);
  t.notMatch(r.stderr, /error/i);
});

t.test('docker info shows the storage driver, cgroups, root dir and counts', { skip }, async (t) => {
  const d = await startDaemon(t);
  const r = await dockerOk(d, ['info']);
  t.match(r.stdout, /^ Storage Driver: overlay2$/m);
  t.match(r.stdout, /^ Cgroup Driver: cgroupfs$/m);
  t.match(r.stdout, new RegExp(`^ Cgroup Version: ${hostCgroupVersion()}$`, 'm'));
  t.match(r.stdout, new RegExp(`^ Docker Root Dir: ${d.dataRoot}$`, 'm'));
  t.match(r.stdout, /^ Containers: 0$/m);
  t.match(r.stdout, /^ Images: 0$/m);
});

t.test('raw HTTP: /v1.45/_ping headers; a too-new version is a 400 with Docker\'s message', { skip }, async (t) => {
  const d = await startDaemon(t);
  for (const method of ['GET', 'HEAD']) {
    const r = await d.request(method, '/v1.45/_ping');
    t.equal(r.status, 200, method);
    t.equal(r.body, method === 'GET' ? 'OK' : '');
    t.equal(r.headers['api-version'], '1.45');
    t.match(r.headers.server, /^berth\//);
    t.equal(r.headers.ostype, 'linux');
    t.equal(r.headers['docker-experimental'], 'false');
    t.equal(r.headers['builder-version'], '1');
    t.equal(r.headers.swarm, 'inactive');
    t.equal(r.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    t.equal(r.headers.pragma, 'no-cache');
    t.match(r.headers['content-type'], /^text\/plain; charset=utf-8$/);
  }
  const v = await d.request('GET', '/version');
  t.equal(v.status, 200, 'no prefix is fine');
  t.equal(JSON.parse(v.body).ApiVersion, '1.45');
  const old = await d.request('GET', '/v1.24/version');
  t.equal(old.status, 200, 'the minimum version is served');
  const tooNew = await d.request('GET', '/v1.99/version');
  t.equal(tooNew.status, 400);
  t.equal(tooNew.headers['content-type'], 'application/json');
  t.same(JSON.parse(tooNew.body), { message: 'client version 1.99 is too new. Maximum supported API version is 1.45' });
});

t.test('SIGTERM: berthd exits 0 and removes its socket and pid file', { skip }, async (t) => {
  const d = await startDaemon(t);
  t.ok(existsSync(d.socket) && existsSync(d.pidfile));
  const st = await d.stop('SIGTERM');
  t.same(st, { code: 0, signal: null });
  t.notOk(existsSync(d.socket), 'socket removed');
  t.notOk(existsSync(d.pidfile), 'pid file removed');
  const r = await docker(d, ['version'], { timeoutMs: 30_000 });
  t.not(r.code, 0, 'the CLI can no longer reach it');
  t.match(r.stderr, /Cannot connect to the Docker daemon/);
});
