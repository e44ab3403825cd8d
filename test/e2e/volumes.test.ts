// Volumes and mounts through the real Docker CLI: volume create/ls/inspect/rm/prune, named and
// anonymous volumes in containers (data kept across container removal and a daemon restart,
// copy-up of the image's content, rm -v, --rm), binds (ro refuses writes, a missing --mount
// source is Docker's error), tmpfs, --read-only, --volumes-from, Mounts in inspect, events.
import t from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder, shortTempDir, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { withTestDaemon } from '../helpers/test-daemon';

let d: Daemon;
const skip = withTestDaemon(t, async (started) => {
  d = started;
  // an image with content under a VOLUME
  await dockerOk(d, ['run', '--name', 'volbase', 'busybox', 'sh', '-c', 'mkdir -p /data && echo from-image > /data/hello']);
  await dockerOk(d, ['commit', '-c', 'VOLUME /data', 'volbase', 'withvol']);
  await dockerOk(d, ['rm', 'volbase']);
});

async function inspect(ref: string): Promise<Record<string, any>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<Record<string, any>>)[0]!;
}

const volumeNames = async () => (await dockerOk(d, ['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);

t.test('volume create, ls, inspect, rm, prune', { skip }, async (t) => {
  t.equal((await dockerOk(d, ['volume', 'create', '--label', 'k=v', 'v-api'])).stdout, 'v-api\n');
  const gen = (await dockerOk(d, ['volume', 'create'])).stdout.trim();
  t.match(gen, /^[0-9a-f]{64}$/);
  const v = JSON.parse((await dockerOk(d, ['volume', 'inspect', 'v-api'])).stdout)[0];
  t.match(v, { Name: 'v-api', Driver: 'local', Labels: { k: 'v' }, Scope: 'local', Mountpoint: join(d.dataRoot, 'volumes', 'v-api', '_data') });
  t.same((await dockerOk(d, ['volume', 'ls', '-q', '--filter', 'label=k=v'])).stdout, 'v-api\n');
  const missing = await docker(d, ['volume', 'inspect', 'nope']);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /no such volume/);
  // prune: anonymous only by default; -a takes named ones too
  await dockerOk(d, ['volume', 'create', 'v-prune']);
  const p = await dockerOk(d, ['volume', 'prune', '-f', '-a', '--filter', 'label=k=v']);
  t.match(p.stdout, /v-api/);
  t.notOk((await volumeNames()).includes('v-api'));
  t.ok((await volumeNames()).includes('v-prune'));
  t.equal((await dockerOk(d, ['volume', 'rm', 'v-prune', gen])).stdout, `v-prune\n${gen}\n`);
});

t.test('named volume: data survives the container, a daemon restart; in use → 409', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'writer', '-v', 'v-data:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  const c = await inspect('writer');
  t.match(c.Mounts, [{ Type: 'volume', Name: 'v-data', Source: join(d.dataRoot, 'volumes', 'v-data', '_data'), Destination: '/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' }]);
  const rm = await docker(d, ['volume', 'rm', 'v-data']);
  t.equal(rm.code, 1);
  t.match(rm.stderr, `Error response from daemon: remove v-data: volume is in use - [${c.Id}]`);
  await dockerOk(d, ['rm', '-v', 'writer']);
  t.ok((await volumeNames()).includes('v-data'), 'rm -v keeps named volumes');
  await d.restart();
  t.equal((await dockerOk(d, ['run', '--rm', '-v', 'v-data:/data:ro', 'busybox', 'cat', '/data/f'])).stdout, 'kept\n');
  const ro = await docker(d, ['run', '--rm', '-v', 'v-data:/data:ro', 'busybox', 'touch', '/data/g']);
  t.not(ro.code, 0, 'a read-only volume refuses writes');
  await dockerOk(d, ['volume', 'rm', 'v-data']);
});

t.test('image content is copied into an empty volume, not with volume-nocopy; anonymous volumes', { skip }, async (t) => {
  t.equal((await dockerOk(d, ['run', '--rm', '-v', 'v-copy:/data', 'withvol', 'cat', '/data/hello'])).stdout, 'from-image\n');
  t.equal(readFileSync(join(d.dataRoot, 'volumes', 'v-copy', '_data', 'hello'), 'utf8'), 'from-image\n');
  const nc = await dockerOk(d, ['run', '--rm', '--mount', 'type=volume,src=v-nocopy,dst=/data,volume-nocopy', 'withvol', 'ls', '-A', '/data']);
  t.equal(nc.stdout, '');
  await dockerOk(d, ['volume', 'rm', 'v-copy', 'v-nocopy']);

  // VOLUME /data: an anonymous volume with the image's content; rm -v removes it
  const before = await volumeNames();
  await dockerOk(d, ['run', '--name', 'anon', 'withvol', 'cat', '/data/hello']);
  const m = (await inspect('anon')).Mounts;
  t.equal(m.length, 1);
  t.match(m[0], { Type: 'volume', Destination: '/data', Driver: 'local', Mode: '', RW: true });
  t.match(m[0].Name, /^[0-9a-f]{64}$/);
  t.same(JSON.parse((await dockerOk(d, ['volume', 'inspect', m[0].Name])).stdout)[0].Labels, { 'com.docker.volume.anonymous': '' });
  await dockerOk(d, ['rm', '-v', 'anon']);
  t.same(await volumeNames(), before, 'rm -v removed the anonymous volume');
  // --rm removes them too; `-v /path` is one as well
  await dockerOk(d, ['run', '--rm', '-v', '/scratch', 'withvol', 'true']);
  t.same(await volumeNames(), before, '--rm removed the anonymous volumes');
  // one left behind is pruned by default
  await dockerOk(d, ['run', '--name', 'anon2', 'withvol', 'true']);
  await dockerOk(d, ['rm', 'anon2']);
  const pr = await dockerOk(d, ['volume', 'prune', '-f']);
  t.match(pr.stdout, /Total reclaimed space/);
  t.same(await volumeNames(), before);
});

t.test('binds: ro refuses writes, -v creates a missing source, --mount does not', { skip }, async (t) => {
  const host = join(d.dir, 'bind-src');
  mkdirSync(host, { recursive: true });
  writeFileSync(join(host, 'in'), 'host\n');
  t.equal((await dockerOk(d, ['run', '--rm', '-v', `${host}:/h`, 'busybox', 'sh', '-c', 'cat /h/in; echo out > /h/out'])).stdout, 'host\n');
  t.equal(readFileSync(join(host, 'out'), 'utf8'), 'out\n');
  const ro = await docker(d, ['run', '--rm', '-v', `${host}:/h:ro`, 'busybox', 'touch', '/h/x']);
  t.not(ro.code, 0);
  t.match(ro.stderr, /Read-only file system/);
  const made = join(d.dir, 'made-by-v');
  await dockerOk(d, ['run', '--rm', '-v', `${made}:/m`, 'busybox', 'true']);
  t.ok(existsSync(made), '-v creates a missing source');
  const missing = await docker(d, ['run', '--rm', '--mount', 'type=bind,src=/nonexistent-x,dst=/x', 'busybox', 'true']);
  t.not(missing.code, 0);
  t.match(missing.stderr, 'invalid mount config for type "bind": bind source path does not exist: /nonexistent-x');
  await dockerOk(d, ['create', '--name', 'binder', '--mount', `type=bind,src=${host},dst=/h,readonly`, 'busybox', 'true']);
  t.match((await inspect('binder')).Mounts, [{ Type: 'bind', Source: host, Destination: '/h', Mode: '', RW: false, Propagation: 'rprivate' }]);
  await dockerOk(d, ['rm', 'binder']);
});

t.test('tmpfs, --read-only, --volumes-from', { skip }, async (t) => {
  const df = await dockerOk(d, ['run', '--rm', '--tmpfs', '/t:size=1m', 'busybox', 'sh', '-c', 'grep " /t " /proc/mounts']);
  t.match(df.stdout, /^tmpfs \/t tmpfs rw,nosuid,nodev,noexec,.*size=1024k/);
  const m = await dockerOk(d, ['run', '--rm', '--mount', 'type=tmpfs,dst=/m,tmpfs-size=2m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'grep " /m " /proc/mounts; stat -c %a /m']);
  t.match(m.stdout, /^tmpfs \/m tmpfs rw,nosuid,nodev,noexec,.*size=2048k,mode=1770 .*\n1770\n$/);

  const ro = await docker(d, ['run', '--rm', '--read-only', '-v', 'v-rw:/rw', '--tmpfs', '/tmp', 'busybox', 'sh', '-c', 'touch /rw/a && touch /tmp/b && touch /c']);
  t.not(ro.code, 0);
  t.match(ro.stderr, /touch: \/c: Read-only file system/);
  t.ok(existsSync(join(d.dataRoot, 'volumes', 'v-rw', '_data', 'a')), 'volumes stay writable under --read-only');
  // a working directory the image lacks is made before the root becomes read-only, as runc does
  t.equal((await dockerOk(d, ['run', '--rm', '--read-only', '-w', '/not/in/image', 'busybox', 'pwd'])).stdout, '/not/in/image\n');

  await dockerOk(d, ['create', '--name', 'src', '-v', 'v-rw:/rw', 'busybox', 'true']);
  t.equal((await dockerOk(d, ['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'ls', '/rw'])).stdout, 'a\n');
  const w = await docker(d, ['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'touch', '/rw/z']);
  t.not(w.code, 0);
  await dockerOk(d, ['rm', 'src']);
  await dockerOk(d, ['volume', 'rm', 'v-rw']);
  t.same(mountsUnder(join(d.dataRoot, 'volumes')), [], 'nothing left mounted');
});

t.test('a tmpfs-backed volume is mounted while used; volume events', { skip }, async (t) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  await dockerOk(d, ['volume', 'create', '--driver', 'local', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=1m', 'v-tmp']);
  const out = await dockerOk(d, ['run', '--rm', '-v', 'v-tmp:/v', 'busybox', 'sh', '-c', 'echo x > /v/f; grep " /v " /proc/mounts']);
  t.match(out.stdout, /^tmpfs \/v tmpfs /);
  t.same(mountsUnder(join(d.dataRoot, 'volumes')), [], 'unmounted once no container uses it');
  await dockerOk(d, ['volume', 'rm', 'v-tmp']);
  const ev = await dockerOk(d, ['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'type=volume', '--format', '{{.Action}} {{.Actor.ID}}']);
  t.match(ev.stdout, /create v-tmp\nmount v-tmp\nunmount v-tmp\ndestroy v-tmp\n/);
});

t.test('system df -v: volume sizes and link counts; docker inspect of an unknown name', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'dfuser', '-v', 'v-df:/d', 'busybox', 'sh', '-c', 'head -c 1000 /dev/zero > /d/blob']);
  await dockerOk(d, ['volume', 'create', 'v-idle']);
  const raw = JSON.parse((await d.request('GET', '/v1.45/system/df?type=volume')).body);
  const byName = new Map((raw.Volumes as Array<Record<string, any>>).map((v) => [v.Name, v]));
  t.same(byName.get('v-df')!.UsageData, { Size: 1000, RefCount: 1 });
  t.same(byName.get('v-idle')!.UsageData, { Size: 0, RefCount: 0 });
  const v = await dockerOk(d, ['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}}\n{{end}}']);
  t.match(v.stdout, /^v-df 1 1kB$/m);
  t.match(v.stdout, /^v-idle 0 0B$/m);
  const ins = await docker(d, ['inspect', 'nope']);
  t.equal(ins.code, 1);
  t.match(ins.stderr, 'Error: No such object: nope');
  await dockerOk(d, ['rm', 'dfuser']);
  await dockerOk(d, ['volume', 'rm', 'v-df', 'v-idle']);
});

t.test('ps --filter volume=: a volume\'s name, a bind\'s source or a mount\'s destination', { skip }, async (t) => {
  const src = shortTempDir('bt-vf-');
  t.teardown(() => rmSync(src, { recursive: true, force: true }));
  await dockerOk(d, ['volume', 'create', 'vf-data']);
  const a = (await dockerOk(d, ['create', '--name', 'vf-a', '-v', 'vf-data:/data', 'busybox', 'true'])).stdout.trim();
  const b = (await dockerOk(d, ['create', '--name', 'vf-b', '-v', `${src}:/srv/in`, 'busybox', 'true'])).stdout.trim();
  await dockerOk(d, ['create', '--name', 'vf-c', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'vf-a', 'vf-b', 'vf-c']));
  const ps = async (filter: string) => (await dockerOk(d, ['ps', '-a', '--no-trunc', '-q', '--filter', filter])).stdout.trim().split('\n').filter(Boolean).sort();
  t.same(await ps('volume=vf-data'), [a], 'by volume name');
  t.same(await ps('volume=/data'), [a], 'by destination');
  t.same(await ps(`volume=${src}`), [b], 'by bind source');
  t.same(await ps('volume=/srv/in'), [b]);
  t.same(await ps('volume=nope'), []);
});
