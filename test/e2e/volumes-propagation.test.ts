// Bind propagation through the real Docker CLI: the mode shown in inspect's Mounts (rprivate by
// default), dockerd's refusal to start shared or slave binds of a source that is not on a
// shared (or slave) mount, and the propagation really applied: a mount made on the host under
// the source after the container started shows inside with rshared and rslave, not with
// rprivate; a mount made inside reaches the host only with rshared; --mount binds in or above
// the data root get rslave as dockerd gives them.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { withTestDaemon } from '../helpers/test-daemon';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

function sh(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** Unmounts everything at and under dir on the host, deepest first (lazily: a container may still hold a peer). */
function umountAll(dir: string): void {
  for (const mp of mountsUnder(dir)) spawnSync('umount', ['-l', mp]);
}

async function mountsOf(ref: string): Promise<Array<Record<string, unknown>>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<{ Mounts: Array<Record<string, unknown>> }>)[0]!.Mounts;
}

t.test('inspect shows each propagation mode; rprivate by default', { skip }, async (t) => {
  const src = join(d.dir, 'prop-inspect');
  mkdirSync(src, { recursive: true });
  await dockerOk(d, ['create', '--name', 'modes',
    '-v', `${src}:/a`, '-v', `${src}:/b:ro,rslave`, '-v', `${src}:/c:shared`,
    '--mount', `type=bind,src=${src},dst=/d,bind-propagation=rshared`, '--mount', `type=bind,src=${src},dst=/e`,
    'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'modes']));
  const byDst = new Map((await mountsOf('modes')).map((m) => [m.Destination, m]));
  t.match(byDst.get('/a'), { Type: 'bind', Source: src, Mode: '', RW: true, Propagation: 'rprivate' });
  t.match(byDst.get('/b'), { Type: 'bind', Mode: 'ro,rslave', RW: false, Propagation: 'rslave' });
  t.match(byDst.get('/c'), { Type: 'bind', Mode: 'shared', RW: true, Propagation: 'shared' });
  t.match(byDst.get('/d'), { Type: 'bind', Mode: '', RW: true, Propagation: 'rshared' });
  t.match(byDst.get('/e'), { Type: 'bind', Mode: '', RW: true, Propagation: 'rprivate' });
  const bad = await docker(d, ['create', '--mount', `type=bind,src=${src},dst=/x,bind-propagation=sideways`, 'busybox', 'true']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /invalid propagation mode: sideways|bind-propagation/);
});

// the daemon's directory is under /tmp: on this machine a private mount of the host
const tmpMount = spawnSync('findmnt', ['-n', '-o', 'TARGET,PROPAGATION', '-T', '/tmp'], { encoding: 'utf8' }).stdout.trim().split(/ +/);
const notPrivate = tmpMount[1] === 'private' ? false : `/tmp is on a ${tmpMount[1] ?? 'unknown'} mount`;

t.test('shared and slave binds need a shared (or slave) source mount, as dockerd', { skip: skip || notPrivate }, async (t) => {
  const src = join(d.dir, 'prop-private');
  mkdirSync(src, { recursive: true });
  const target = tmpMount[0]!;
  t.teardown(() => docker(d, ['rm', '-f', 'p-shared', 'p-slave']));
  const shared = await docker(d, ['run', '--name', 'p-shared', '-v', `${src}:/m:rshared`, 'busybox', 'true']);
  t.not(shared.code, 0);
  t.match(shared.stderr, `Error response from daemon: path ${src} is mounted on ${target} but it is not a shared mount`);
  t.match(JSON.parse((await dockerOk(d, ['inspect', 'p-shared'])).stdout)[0].State, { Status: 'created' }, 'the container is left created');
  const slave = await docker(d, ['run', '--name', 'p-slave', '--mount', `type=bind,src=${src},dst=/m,bind-propagation=slave`, 'busybox', 'true']);
  t.not(slave.code, 0);
  t.match(slave.stderr, `path ${src} is mounted on ${target} but it is not a shared or slave mount`);
});

t.test('propagation is applied: host mounts reach rshared and rslave binds, the container\'s reach the host only with rshared', { skip }, async (t) => {
  // a shared mount of the host to bind from: the directory bound on itself, made shared
  const src = join(d.dir, 'prop-shared');
  mkdirSync(src, { recursive: true });
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'p-rshared', 'p-rslave', 'p-rprivate']);
    umountAll(src);
  });
  sh('mount', '--bind', src, src);
  sh('mount', '--make-shared', src);
  mkdirSync(join(src, 'fromhost'));
  mkdirSync(join(src, 'fromrshared'));
  mkdirSync(join(src, 'fromrslave'));

  const run = (name: string, mode: string) => dockerOk(d, ['run', '-d', '--name', name, '--privileged', '-v', `${src}:/m${mode}`, 'busybox', 'sleep', '1000']);
  await run('p-rshared', ':rshared');
  await run('p-rslave', ':rslave');
  await run('p-rprivate', '');
  const modes = await Promise.all(['p-rshared', 'p-rslave', 'p-rprivate'].map(async (c) => (await mountsOf(c))[0]!.Propagation));
  t.same(modes, ['rshared', 'rslave', 'rprivate']);
  // dockerd makes the root shared for a shared bind (its own peer group); private otherwise
  const rootShared = async (c: string) => /^\S+ \S+ \S+ \/ \/ \S+ shared:/m.test((await dockerOk(d, ['exec', c, 'cat', '/proc/self/mountinfo'])).stdout);
  t.same(await Promise.all(['p-rshared', 'p-rslave', 'p-rprivate'].map(rootShared)), [true, false, false]);

  // the host mounts a tmpfs under the source after the containers started
  sh('mount', '-t', 'tmpfs', '-o', 'size=1m', 'bt-prop', join(src, 'fromhost'));
  writeFileSync(join(src, 'fromhost', 'f'), 'host mount\n');
  const see = async (c: string) => (await docker(d, ['exec', c, 'cat', '/m/fromhost/f'])).stdout;
  t.equal(await see('p-rshared'), 'host mount\n', 'rshared receives the host\'s mount');
  t.equal(await see('p-rslave'), 'host mount\n', 'rslave receives the host\'s mount');
  t.equal(await see('p-rprivate'), '', 'rprivate does not');

  // the containers mount under the bind: only rshared sends it back to the host
  for (const [c, dir] of [['p-rshared', 'fromrshared'], ['p-rslave', 'fromrslave']] as const) {
    await dockerOk(d, ['exec', c, 'sh', '-c', `mount -t tmpfs tmpfs /m/${dir} && echo ${c} > /m/${dir}/f`]);
  }
  t.ok(existsSync(join(src, 'fromrshared', 'f')), 'a mount made in the rshared container shows on the host');
  t.notOk(existsSync(join(src, 'fromrslave', 'f')), 'a mount made in the rslave container stays inside');
  t.same(mountsUnder(src).sort(), [src, join(src, 'fromhost'), join(src, 'fromrshared')].sort(), 'nothing else reached the host');
});

t.test('--mount binds in or above the data root get rslave, as dockerd; other modes are refused', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'p-root']));
  // d.dir holds the data root; its mount here is private, so the rslave falls back to the default and the container runs
  await dockerOk(d, ['run', '--name', 'p-root', '--mount', `type=bind,src=${d.dir},dst=/host`, 'busybox', 'ls', '/host/data']);
  t.match((await mountsOf('p-root'))[0], { Type: 'bind', Source: d.dir, Destination: '/host', Propagation: 'rslave' });
  await dockerOk(d, ['create', '--name', 'p-root-v', '-v', `${d.dir}:/host`, 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'p-root-v']));
  t.match((await mountsOf('p-root-v'))[0], { Propagation: 'rprivate' }, '-v binds are left alone');
  const bad = await docker(d, ['create', '--mount', `type=bind,src=${d.dataRoot},dst=/x,bind-propagation=rprivate`, 'busybox', 'true']);
  t.not(bad.code, 0);
  t.match(bad.stderr, `Error response from daemon: invalid mount config: must use either propagation mode "rslave" or "rshared" when mount source is within the daemon root, daemon root: "${d.dataRoot}", bind mount source: "${d.dataRoot}", propagation: "rprivate"`);
});
