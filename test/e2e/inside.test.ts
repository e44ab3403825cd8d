// Inside the container through the real CLI: top, stats, diff, export and docker cp both ways on
// running and stopped containers; and the hostile cases over raw HTTP: crafted tars with `../`
// and symlinked parents, container-side symlinks to host files, a symlink swapped in a loop
// while archives are read. Nothing may be read or written outside the container's root.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { e2eSkipReason, mountsUnder, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();

let d: Daemon;
let host: string; // a host directory holding the secret the container must never reach
const SECRET = `host-secret-${process.pid}`;

t.before(async () => {
  if (skip) return;
  d = await startDaemon(t);
  await importTestImage(d, 'busybox:latest');
  host = mkdtempSync('/tmp/bt-host-');
  writeFileSync(join(host, 'secret'), SECRET);
  t.teardown(() => rmSync(host, { recursive: true, force: true }));
});

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

function raw(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: d.socket, method, path, headers: { Host: 'x', ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function makeTar(entries: Array<{ name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; data?: string; linkname?: string }>): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const data = e.data !== undefined ? Buffer.from(e.data) : undefined;
    await new Promise<void>((resolve, reject) => p.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: 0o644, size: data?.length ?? 0 }, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function tarNames(buf: Buffer): Promise<Map<string, { type: string; data: string; linkname?: string | null }>> {
  const out = new Map<string, { type: string; data: string; linkname?: string | null }>();
  const x = tar.extract();
  const done = (async () => {
    for await (const e of x) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(c as Buffer);
      out.set(e.header.name, { type: e.header.type, data: Buffer.concat(chunks).toString(), linkname: e.header.linkname });
    }
  })();
  x.end(buf);
  await done;
  return out;
}

const put = (c: string, path: string, body: Buffer, q = '') =>
  raw('PUT', `/v1.45/containers/${c}/archive?path=${encodeURIComponent(path)}${q}`, body, { 'Content-Type': 'application/x-tar' });
const get = (c: string, path: string) => raw('GET', `/v1.45/containers/${c}/archive?path=${encodeURIComponent(path)}`);

function noSecretLeak(t: { notOk(v: unknown, m: string): void }, r: Raw, what: string): void {
  t.notOk(r.body.includes(Buffer.from(SECRET)), `${what}: the host secret never appears`);
}

t.test('top: default and -o pid,comm; not running is a 409', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'tp', 'busybox', 'sh', '-c', 'exec sleep 1000']);
  t.teardown(() => docker(d, ['rm', '-f', 'tp']));
  const r = await dockerOk(d, ['top', 'tp']);
  t.match(r.stdout, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
  t.match(r.stdout, /sleep 1000/);
  t.equal(r.stdout.trim().split('\n').length, 2, 'only the container\'s process');
  const o = await dockerOk(d, ['top', 'tp', '-o', 'pid,comm']);
  t.match(o.stdout, /^PID\s+COMMAND\n\d+\s+sleep\n$/);
  const bad = await docker(d, ['top', 'tp', '-o', 'x=PID']);
  t.not(bad.code, 0);
  t.match(bad.stderr, 'specifying "x=PID" is not allowed');
  await dockerOk(d, ['create', '--name', 'tp2', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'tp2']));
  const stopped = await docker(d, ['top', 'tp2']);
  t.not(stopped.code, 0);
  t.match(stopped.stderr, 'is not running');
  const ev = await dockerOk(d, ['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'event=top', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
  t.match(ev.stdout, 'top tp');
});

t.test('stats: --no-stream through the CLI, stream=0 with precpu, one-shot, streaming, stopped', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'st', '--memory', '64m', 'busybox', 'sh', '-c', 'while :; do :; done']);
  t.teardown(() => docker(d, ['rm', '-f', 'st']));
  const cli = await dockerOk(d, ['stats', '--no-stream', 'st']);
  const lines = cli.stdout.trim().split('\n');
  t.match(lines[0], /CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS/);
  t.match(lines[1], /^[0-9a-f]{12}\s+st\s+\d+\.\d+%\s+[\d.]+[KMG]?i?B \/ 64MiB\s+[\d.]+%\s+\S+ \/ \S+\s+\S+ \/ \S+\s+1$/);
  const cpu = Number(/\s(\d+\.\d+)%/.exec(lines[1]!)![1]);
  t.ok(cpu > 10, `a busy loop shows CPU use (${cpu}%)`);

  const one = JSON.parse((await raw('GET', '/v1.45/containers/st/stats?stream=0')).body.toString());
  t.equal(one.name, '/st');
  t.ok(one.cpu_stats.cpu_usage.total_usage > one.precpu_stats.cpu_usage.total_usage, 'precpu is the sample before');
  t.ok(one.cpu_stats.system_cpu_usage > one.precpu_stats.system_cpu_usage);
  t.equal(one.memory_stats.limit, 64 * 1024 * 1024);
  t.ok(one.memory_stats.usage > 0);
  t.equal(one.pids_stats.current, 1);
  t.ok(Array.isArray(one.blkio_stats.io_service_bytes_recursive));
  const shot = JSON.parse((await raw('GET', '/v1.45/containers/st/stats?stream=0&one-shot=1')).body.toString());
  t.equal(shot.preread, '0001-01-01T00:00:00Z');
  t.equal((await raw('GET', '/v1.45/containers/st/stats?stream=1&one-shot=1')).status, 400);

  // streaming: two records a second apart, each with the previous as precpu
  const records = await new Promise<any[]>((resolve, reject) => {
    const got: any[] = [];
    let buf = '';
    const req = httpRequest({ socketPath: d.socket, path: '/v1.45/containers/st/stats', headers: { Host: 'x' } }, (res) => {
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          got.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
          if (got.length === 2) {
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => (got.length >= 2 ? undefined : reject(e)));
    req.end();
  });
  t.equal(records[1].preread, records[0].read);

  await dockerOk(d, ['create', '--name', 'st2', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'st2']));
  const zero = JSON.parse((await raw('GET', '/v1.45/containers/st2/stats?stream=0')).body.toString());
  t.equal(zero.read, '0001-01-01T00:00:00Z');
  t.equal(zero.name, '/st2');
});

t.test('diff: A/C/D from the upper dir only', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'df', 'busybox', 'sh', '-c', 'echo a > /tmp/new; rm /etc/group; echo b >> /etc/passwd; mkdir -p /var/x/y']);
  t.teardown(() => docker(d, ['rm', '-f', 'df']));
  const r = await dockerOk(d, ['diff', 'df']);
  t.equal(r.stdout, ['C /etc', 'D /etc/group', 'C /etc/passwd', 'C /tmp', 'A /tmp/new', 'C /var', 'A /var/x', 'A /var/x/y', ''].join('\n'));
  await dockerOk(d, ['create', '--name', 'df2', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'df2']));
  t.equal((await raw('GET', '/v1.45/containers/df2/changes')).body.toString(), 'null\n', 'no change: null, as dockerd');
});

t.test('export: the whole filesystem with the init layer files, without the changes hidden', { skip }, async (t) => {
  await dockerOk(d, ['run', '--name', 'ex', 'busybox', 'sh', '-c', 'echo hi > /root/mine; rm /etc/group']);
  t.teardown(() => docker(d, ['rm', '-f', 'ex']));
  const dir = mkdtempSync('/tmp/bt-exp-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await dockerOk(d, ['export', '-o', join(dir, 'ex.tar'), 'ex']);
  const names = spawnSync('tar', ['-tf', join(dir, 'ex.tar')], { encoding: 'utf8' }).stdout.split('\n');
  for (const n of ['.dockerenv', 'bin/', 'bin/busybox', 'bin/sh', 'etc/passwd', 'etc/hostname', 'proc/', 'dev/', 'root/mine']) t.ok(names.includes(n), `has ${n}`);
  t.notOk(names.includes('etc/group'), 'a deleted file is not exported');
  t.notOk(names.some((n) => n.startsWith('./') || n.startsWith('/')), 'names are relative');
  // while it runs: the same view, not the mounts over it
  await dockerOk(d, ['run', '-d', '--name', 'ex2', 'busybox', 'sleep', '1000']);
  t.teardown(() => docker(d, ['rm', '-f', 'ex2']));
  const live = await raw('GET', '/v1.45/containers/ex2/export');
  t.equal(live.status, 200);
  t.equal(live.headers['content-type'], 'application/octet-stream');
  const entries = await tarNames(live.body);
  t.ok(entries.has('etc/hosts') && entries.get('etc/hosts')!.data === '', 'the init layer\'s empty /etc/hosts, not the bind mount');
  t.notOk([...entries.keys()].some((n) => n.startsWith('proc/') && n !== 'proc/'), 'no /proc contents');
  t.same(mountsUnder(join(d.execRoot, 'containers', (await dockerOk(d, ['inspect', '-f', '{{.Id}}', 'ex'])).stdout.trim())), [], 'the export mount is gone');
});

for (const state of ['running', 'stopped'] as const) {
  t.test(`cp both ways on a ${state} container: files, dirs, symlinks, -L, - streams, 404`, { skip }, async (t) => {
    const name = `cp-${state}`;
    await dockerOk(d, ['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'mkdir -p /data/sub; echo one > /data/one; echo two > /data/sub/two; ln -s /data/one /data/link; ln -s /etc /data/etclink; exec sleep 1000']);
    t.teardown(() => docker(d, ['rm', '-f', name]));
    await new Promise((r) => setTimeout(r, 300));
    if (state === 'stopped') await dockerOk(d, ['stop', '-t', '0', name]);
    const dir = mkdtempSync('/tmp/bt-cp-');
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));

    // container -> host
    await dockerOk(d, ['cp', `${name}:/data/one`, join(dir, 'one.txt')]);
    t.equal(readFileSync(join(dir, 'one.txt'), 'utf8'), 'one\n');
    await dockerOk(d, ['cp', `${name}:/data`, join(dir, 'data')]);
    t.equal(readFileSync(join(dir, 'data', 'sub', 'two'), 'utf8'), 'two\n');
    t.equal(readlinkSync(join(dir, 'data', 'link')), '/data/one', 'symlinks are kept');
    await dockerOk(d, ['cp', '-L', `${name}:/data/link`, join(dir, 'followed')]);
    t.equal(readFileSync(join(dir, 'followed'), 'utf8'), 'one\n', '-L copies the target');
    const s = await docker(d, ['cp', `${name}:/data/sub`, '-']);
    t.equal(s.code, 0);
    const streamed = await tarNames(Buffer.from(s.stdout, 'latin1'));
    t.ok(streamed.has('sub/') && streamed.get('sub/two')?.data === 'two\n', '- writes a tar rooted at the base name');
    const missing = await docker(d, ['cp', `${name}:/nonexistent`, join(dir, 'x')]);
    t.not(missing.code, 0);
    t.match(missing.stderr, `Could not find the file /nonexistent in container ${name}`);
    const g = await get(name, '/data/one');
    t.equal(g.headers['content-type'], 'application/x-tar');
    const stat = JSON.parse(Buffer.from(String(g.headers['x-docker-container-path-stat']), 'base64').toString());
    t.match(stat, { name: 'one', size: 4, mode: 0o644, linkTarget: '' });
    const ls = JSON.parse(Buffer.from(String((await raw('HEAD', `/v1.45/containers/${name}/archive?path=%2Fdata%2Fetclink`)).headers['x-docker-container-path-stat']), 'base64').toString());
    t.match(ls, { name: 'etclink', linkTarget: '/etc' });
    t.equal(ls.mode, 2 ** 27 + 0o777, 'Go\'s ModeSymlink bits');

    // host -> container
    writeFileSync(join(dir, 'in.txt'), 'in\n');
    mkdirSync(join(dir, 'indir', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'indir', 'deep', 'f'), 'deep\n');
    await dockerOk(d, ['cp', join(dir, 'in.txt'), `${name}:/data/`]);
    await dockerOk(d, ['cp', join(dir, 'indir'), `${name}:/data/newdir`]);
    const tarIn = await makeTar([{ name: 'streamed.txt', data: 'streamed\n' }]);
    const st = await docker(d, ['cp', '-', `${name}:/data`], { input: tarIn });
    t.equal(st.code, 0, st.stderr);
    const back = await tarNames((await get(name, '/data')).body);
    t.equal(back.get('data/in.txt')?.data, 'in\n');
    t.equal(back.get('data/newdir/deep/f')?.data, 'deep\n');
    t.equal(back.get('data/streamed.txt')?.data, 'streamed\n');
    const nodir = await docker(d, ['cp', join(dir, 'in.txt'), `${name}:/nope/`]);
    t.not(nodir.code, 0);
    // noOverwriteDirNonDir: a file over a directory is refused
    const clash = await put(name, '/data', await makeTar([{ name: 'sub', data: 'x' }]), '&noOverwriteDirNonDir=1');
    t.equal(clash.status, 400);
    t.match(clash.body.toString(), 'cannot overwrite directory');
    const notDir = await put(name, '/data/one', await makeTar([{ name: 'x', data: 'x' }]));
    t.equal(notDir.status, 400);
    t.match(notDir.body.toString(), 'extraction point is not a directory');
    const c = (await dockerOk(d, ['inspect', '-f', '{{.Id}}', name])).stdout.trim();
    t.same(mountsUnder(join(d.execRoot, 'containers', c)).filter((m) => m.includes('/rootfs-')), [], 'no private mount left');
  });
}

t.test('hostile: crafted tars and container-side symlinks never reach the host', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'evil', 'busybox', 'sh', '-c',
    `ln -s ${host}/secret /abs; ln -s ../../../../../../..${host}/secret /rel; ln -s ${host} /hostdir; ln -s / /up; mkdir /box; exec sleep 1000`]);
  t.teardown(() => docker(d, ['rm', '-f', 'evil']));
  await new Promise((r) => setTimeout(r, 300));
  for (const state of ['running', 'stopped']) {
    if (state === 'stopped') await dockerOk(d, ['stop', '-t', '0', 'evil']);
    // reads through symlinks resolve inside the container: nothing there
    for (const p of ['/abs', '/rel']) {
      const r = await get('evil', p);
      t.equal(r.status, 404, `${state} GET ${p}: dangles inside the container (moby's Stat evaluates it)`);
      noSecretLeak(t, r, `${state} GET ${p}`);
      t.equal((await raw('HEAD', `/v1.45/containers/evil/archive?path=${encodeURIComponent(p)}`)).status, 404, `${state} HEAD ${p}: dangles inside the container`);
    }
    for (const p of ['/hostdir/secret', '/abs/', '/up/../../..' + host + '/secret']) {
      const r = await get('evil', p);
      t.equal(r.status, 404, `${state} GET ${p}: 404`);
      noSecretLeak(t, r, `${state} GET ${p}`);
    }
    const cli = await docker(d, ['cp', '-L', 'evil:/abs', '-']);
    t.not(cli.code, 0, `${state} cp -L of a link to a host file fails`);
    t.notOk(cli.stdout.includes(SECRET));

    // writes: `..` names, symlinked parents, links that point out
    const escape = await put('evil', '/box', await makeTar([{ name: '../../../../../..' + host + '/written', data: 'x' }]));
    t.equal(escape.status, 400, `${state} ../ in a name is refused`);
    const viaUp = await put('evil', '/', await makeTar([{ name: 'up/tmp/via-up', data: 'up' }]));
    t.equal(viaUp.status, 200, `${state} a symlinked parent resolves inside the container`);
    const viaLink = await put('evil', '/', await makeTar([{ name: 'hostdir/written', data: 'x' }]));
    t.equal(viaLink.status, 400, `${state} a parent linked to a host dir dangles inside the container`);
    const twoStep = await put('evil', '/box', await makeTar([{ name: 'l', type: 'symlink', linkname: host }, { name: 'l/written2', data: 'x' }]));
    t.equal(twoStep.status, 400, `${state} a link made by the tar itself dangles too`);
    const twoStepRel = await put('evil', '/box', await makeTar([{ name: 'r', type: 'symlink', linkname: '../../../../../../../..' }, { name: 'r/tmp/rel-up', data: 'rel' }]));
    t.equal(twoStepRel.status, 200, `${state} a ../ link made by the tar stops at the container's root`);
    const dest = await put('evil', '/hostdir', await makeTar([{ name: 'written3', data: 'x' }]));
    t.equal(dest.status, 404, `${state} an extraction point through a link to a host dir does not exist`);
    const hard = await put('evil', '/box', await makeTar([{ name: 'h', type: 'link', linkname: '../../../..' + host + '/secret' }]));
    t.equal(hard.status, 400, `${state} a hard link out is refused`);
    for (const f of ['written', 'written2', 'written3']) t.notOk(existsSync(join(host, f)), `${state}: nothing written in the host dir (${f})`);
    t.equal(readFileSync(join(host, 'secret'), 'utf8'), SECRET);
    if (state === 'running') {
      const r = await get('evil', '/tmp');
      const names = await tarNames(r.body);
      t.equal(names.get('tmp/via-up')?.data, 'up', 'the writes landed inside the container');
      t.equal(names.get('tmp/rel-up')?.data, 'rel');
    }
  }
});

t.test('hostile: a symlink swapped in a loop while archives are read and written', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'swap', 'busybox', 'sh', '-c',
    `mkdir -p /w/real; echo inside > /w/real/secret; while :; do ln -sfn ${host} /w/cur; rm -f /w/cur; ln -sfn /w/real /w/cur; rm -f /w/cur; done`]);
  t.teardown(() => docker(d, ['rm', '-f', 'swap']));
  for (let i = 0; i < 150; i++) {
    const r = await get('swap', '/w/cur/secret');
    noSecretLeak(t, r, `read ${i}`);
    const w = await put('swap', '/w/cur', await makeTar([{ name: `race${i}`, data: 'x' }]));
    t.ok([200, 400, 404, 500].includes(w.status), `write ${i} answered (${w.status})`);
  }
  t.notOk(spawnSync('ls', [host], { encoding: 'utf8' }).stdout.includes('race'), 'nothing landed in the host dir');
});

t.test('events: archive-path, extract-to-dir, export', { skip }, async (t) => {
  const ev = await dockerOk(d, ['events', '--since', '0', '--until', String(Math.ceil(Date.now() / 1000) + 1), '--format', '{{.Action}}']);
  for (const a of ['archive-path', 'extract-to-dir', 'export']) t.ok(ev.stdout.split('\n').includes(a), a);
});

