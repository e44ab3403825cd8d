// berth-monitor against the real kernel, driven through MonitorClient: namespaces, overlay
// rootfs, stdio (pipes and pty), json-file log, exit record, signals, capabilities, OOM.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import {
  encodeMonitorConfig, MonitorClient, MonitorPool, spawnMonitor, type MonitorConfig, type SpawnedMonitor,
} from '../../daemon/backend/containers/monitor-client';
import { collect, type Outcome } from '../helpers/monitor-outcome';
import { monitorPath, nativeDir } from '../../daemon/native/binding';

const BUSYBOX = '/bin/busybox';

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts)';
  if (!existsSync(monitorPath())) return `berth-monitor is not built (${monitorPath()}); run npm run build:native`;
  if (!existsSync(BUSYBOX)) return `no static busybox at ${BUSYBOX} to build a test rootfs`;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'the kernel has no overlayfs';
  return null;
}

// The pure parts in C (escaping, time format, log cutting, rotation, config, passwd lookup).
const cTest = join(nativeDir(), 'build', 'Release', 'test-monitor-json');
const cName = 'test-monitor-json: JSON escaping, RFC3339Nano, json-file records and rotation, config, user lookup';
if (existsSync(cTest)) t.spawn(cTest, [], {}, cName);
else t.test(cName, { skip: `${cTest} is not built (npm run build:native)` }, () => {});

const skip = skipReason();
if (skip) {
  t.test('berth-monitor against the kernel', { skip }, () => {});
} else {
  main();
}

/** Everything a run leaves behind is under here; t.teardown removes it even on failure. */
function main(): void {
  const base = mkdtempSync(join(tmpdir(), 'berth-monitor-test-'));
  const pids = new Set<number>();
  const cgroups: string[] = [];

  t.teardown(() => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (const cg of cgroups) {
      try { rmdirSync(cg); } catch { /* gone or busy */ }
    }
    rmSync(base, { recursive: true, force: true });
  });

  // The image layer: busybox with its applets as symlinks, passwd and group, a non-executable file.
  const lower = join(base, 'lower');
  mkdirSync(join(lower, 'bin'), { recursive: true });
  mkdirSync(join(lower, 'etc'));
  copyFileSync(BUSYBOX, join(lower, 'bin/busybox'));
  const applets = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(lower, 'bin', a));
  writeFileSync(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(lower, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');

  let seq = 0;

  interface Run {
    dir: string;
    cfg: MonitorConfig;
    pid: number;
    monitorPid: number;
    client: MonitorClient;
  }

  /** A container's dirs and config for `args`. */
  function newContainer(args: string[], extra: Partial<MonitorConfig> = {}, socketDir?: string): { dir: string; cfg: MonitorConfig } {
    const dir = join(base, `c${++seq}`);
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
    const sockDir = socketDir ?? dir;
    mkdirSync(sockDir, { recursive: true });
    const cfg: MonitorConfig = {
      id: seq.toString(16).padStart(64, '0'),
      socket: join(sockDir, 'monitor.sock'),
      log: join(dir, 'json.log'),
      exitFile: join(dir, 'exit.json'),
      lowers: [lower],
      upper: join(dir, 'upper'),
      work: join(dir, 'work'),
      rootfs: join(dir, 'rootfs'),
      hostname: 'box',
      args,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      tty: false,
      openStdin: false,
      stdinOnce: false,
      ...extra,
    };
    return { dir, cfg };
  }

  /** Spawns a monitor for `args` and connects a client attached to stdout and stderr. */
  async function launch(args: string[], extra: Partial<MonitorConfig> = {}, socketDir?: string, prepare?: (cfg: MonitorConfig) => void): Promise<Run> {
    const { dir, cfg } = newContainer(args, extra, socketDir);
    prepare?.(cfg);
    const { pid, monitorPid } = await spawnMonitor({ ...cfg, configFile: join(dir, 'config'), monitorLog: join(dir, 'monitor.log') });
    pids.add(pid);
    pids.add(monitorPid);
    const client = await MonitorClient.connect(cfg.socket);
    client.attach({ stdout: true, stderr: true });
    return { dir, cfg, pid, monitorPid, client };
  }

  /** `args` autostarted by a standby of `pool`, adopted with its frames held until release(). */
  async function fromStandby(pool: MonitorPool, args: string[], extra: Partial<MonitorConfig> = {}, refillLater = false): Promise<{ r: Run; spawned: SpawnedMonitor }> {
    const { dir, cfg } = newContainer(args, { autostart: true, ...extra });
    const spawned = await spawnMonitor({ ...cfg, configFile: join(dir, 'config'), monitorLog: join(dir, 'monitor.log'), refillLater }, pool);
    pids.add(spawned.pid);
    pids.add(spawned.monitorPid);
    const client = await MonitorClient.adopt(spawned.connection!, cfg.socket, true);
    return { r: { dir, cfg, pid: spawned.pid, monitorPid: spawned.monitorPid, client }, spawned };
  }

  /** Waits for the monitor process to be gone, then checks it left nothing behind. */
  async function settled(t: Test, r: Run): Promise<void> {
    for (let i = 0; i < 200 && alive(r.monitorPid); i++) await sleep(10);
    t.notOk(alive(r.monitorPid), 'monitor exited');
    t.notOk(alive(r.pid), 'init is gone');
    pids.delete(r.pid);
    pids.delete(r.monitorPid);
    t.notOk(existsSync(r.cfg.socket), 'socket removed');
    t.notOk(readFileSync('/proc/self/mountinfo', 'utf8').includes(r.dir), 'no mount of the container in the host');
  }

  async function run(args: string[], extra: Partial<MonitorConfig> = {}, before?: (c: MonitorClient) => void): Promise<Outcome & { r: Run }> {
    const r = await launch(args, extra);
    const done = collect(r.client);
    before?.(r.client);
    r.client.go();
    const o = await done;
    return { ...o, r };
  }

  t.test('echo hi: STDOUT, EXIT 0, the exact json-file line, the exit file', async (t) => {
    const o = await run(['echo', 'hi']);
    t.equal(o.stdout, 'hi\n');
    t.equal(o.exit.exitCode, 0);
    t.equal(o.exit.signal, 0);
    t.equal(o.exit.oomKilled, false);
    t.ok(o.started, 'STARTED came');
    t.equal(o.started!.pid, o.r.pid);
    const log = readFileSync(o.r.cfg.log!, 'utf8');
    t.match(log, /^\{"log":"hi\\n","stream":"stdout","time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z"\}\n$/);
    t.same(JSON.parse(readFileSync(o.r.cfg.exitFile, 'utf8')), o.exit, 'exit file holds the EXIT record');
    t.notOk(existsSync(`${o.r.cfg.exitFile}.tmp`));
    await settled(t, o.r);
  });

  t.test('a running container has no exit record: the last run\'s is removed at the start', async (t) => {
    const r = await launch(['sleep', '100'], {}, undefined, (cfg) => {
      writeFileSync(cfg.exitFile, '{"exitCode":3,"oomKilled":false,"finishedAt":"2026-01-01T00:00:00Z"}');
    });
    const { cfg, client } = r;
    const done = collect(client);
    client.go();
    await new Promise((resolve) => client.once('started', resolve));
    t.notOk(existsSync(cfg.exitFile), 'no record while it runs');
    client.signal(9);
    t.equal((await done).exit.exitCode, 137);
    t.equal(JSON.parse(readFileSync(cfg.exitFile, 'utf8')).exitCode, 137, 'this run\'s record');
    await settled(t, r);
  });

  t.test('the socket path is given up before EXIT: a restart\'s next monitor binds it at once', async (t) => {
    const r = await launch(['true']);
    const atExit = new Promise<boolean>((resolve) => r.client.once('exit', () => resolve(existsSync(r.cfg.socket))));
    r.client.go();
    t.equal(await atExit, false, 'gone when EXIT is read');
    await settled(t, r);
  });

  t.test('autostart from a standby: no GO; STARTED, output and EXIT on its answer socket, held until release', async (t) => {
    const pool = new MonitorPool(base);
    t.teardown(() => pool.close());
    await pool.refill();
    const { r, spawned } = await fromStandby(pool, ['sh', '-c', 'echo out; echo err >&2; exit 5']);
    const client = r.client;
    t.ok(spawned.connection, 'a standby took the request');
    t.notOk(existsSync(join(r.dir, 'config')), 'its config came inline after the request: no file written');
    // no GO, no ATTACH: the process runs and exits on its own, and nothing is heard before release
    for (let i = 0; i < 200 && alive(spawned.pid); i++) await sleep(10);
    t.notOk(alive(spawned.pid), 'the process ran to its end without GO');
    const heard: string[] = [];
    client.on('started', () => heard.push('started'));
    t.same(heard, [], 'held until release');
    const done = collect(client);
    client.release();
    const o = await done;
    t.same(heard, ['started']);
    t.equal(o.stdout, 'out\n', 'stdout from the first byte');
    t.equal(o.stderr, 'err\n');
    t.equal(o.exit.exitCode, 5);
    client.close(); // berthd lets it go (or takes it back as a standby: see the STANDBY test)
    await settled(t, r);
  });

  t.test('a standby skips a client frame before its request, takes an inline config that arrives in pieces, and refuses a length that is not one', async (t) => {
    const pool = new MonitorPool(base, 2);
    t.teardown(() => pool.close());
    await pool.refill();
    const firstLine = (sock: Socket) => new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (b: Buffer) => {
        got += b.toString();
        if (got.includes('\n')) resolve(got.slice(0, got.indexOf('\n')));
      });
      sock.on('end', () => resolve(got));
    });

    const { dir, cfg } = newContainer(['echo', 'pieces']);
    const config = encodeMonitorConfig(cfg);
    const sock = pool.take()!;
    const answer = firstLine(sock);
    // a client frame on its way before the request (a late SIGNAL to a recycled monitor) is skipped
    const stray = Buffer.from([20, 0, 0, 0, 4, 0, 0, 0, 9]);
    sock.write(Buffer.concat([stray.subarray(0, 3)]));
    await sleep(20);
    sock.write(Buffer.concat([stray.subarray(3), Buffer.from(`container\0+${config.length}\0${join(dir, 'monitor.log')}\0`), config.subarray(0, 10)]));
    await sleep(50);
    sock.write(config.subarray(10));
    const ready = /^ready (\d+) (\d+)$/.exec(await answer);
    t.ok(ready, 'ready, the config read whole');
    pids.add(Number(ready?.[1]));
    pids.add(Number(ready?.[2]));
    const client = await MonitorClient.connect(cfg.socket);
    client.attach({ stdout: true, stderr: true });
    const done = collect(client);
    client.go();
    const o = await done;
    t.equal(o.stdout, 'pieces\n');
    t.equal(o.exit.exitCode, 0);
    sock.destroy();
    await settled(t, { dir, cfg, pid: Number(ready?.[1]), monitorPid: Number(ready?.[2]), client });

    const bad = pool.take()!;
    const refused = firstLine(bad);
    bad.write(`container\0+12x\0${join(dir, 'monitor2.log')}\0`);
    t.match(await refused, /^error standby: config length 12x is not a number/);
    bad.destroy();
  });

  t.test('a container monitor becomes a standby again (STANDBY) and serves the next one; one not taken back exits', async (t) => {
    const pool = new MonitorPool(base);
    t.teardown(() => pool.close());
    await pool.refill();
    const fdsOf = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
    const monitors: number[] = [];
    let fdsBetween = 0;
    for (const word of ['first', 'second', 'third']) {
      // no new standby meanwhile (berthd waits a moment after a start): the pool has room for this one
      const { r, spawned } = await fromStandby(pool, ['echo', word], {}, true);
      t.ok(spawned.connection, `${word}: a standby took it`);
      // given back at EXIT, as berthd does (STANDBY follows at once)
      const back = new Promise<void>((resolve) => r.client.once('standby', () => resolve()));
      r.client.once('exit', () => pool.recycle(r.client));
      const done = collect(r.client);
      r.client.release();
      const o = await done;
      t.equal(o.stdout, `${word}\n`, `${word}: its output`);
      t.equal(o.exit.exitCode, 0);
      monitors.push(spawned.monitorPid);
      await back;
      t.notOk(alive(spawned.pid), `${word}: its process is gone`);
      pids.delete(spawned.pid);
      t.notOk(existsSync(r.cfg.socket), `${word}: its container's socket is gone`);
      t.ok(existsSync(r.cfg.exitFile), `${word}: its exit record is written`);
      const fds = fdsOf(spawned.monitorPid);
      if (fdsBetween) t.equal(fds, fdsBetween, `${word}: no descriptor of the container left in the monitor`);
      fdsBetween = fds;
    }
    t.equal(new Set(monitors).size, 1, 'one monitor served all three');
    const pid = monitors[0]!;
    pool.take()!.destroy(); // not wanted any more: EOF, and it exits
    for (let i = 0; i < 200 && alive(pid); i++) await sleep(10);
    t.notOk(alive(pid), 'a standby berthd lets go of exits');
    pids.delete(pid);
  });

  t.test('standbys are forked by one spawner, named standby; they end with the pool, and so does it', async (t) => {
    const own = join(base, `pool${++seq}`);
    mkdirSync(own);
    const pool = new MonitorPool(own, 2);
    t.teardown(() => pool.close());
    await pool.refill();
    const mine = () => monitorsOf(own);
    // the pool is full once the requests are sent; the spawner forks when it reads them
    for (let i = 0; i < 200 && mine().length < 3; i++) await sleep(10);
    const procs = mine().filter((p) => p.args[1] === 'spawner' || p.args[1] === 'standby');
    for (const p of procs) pids.add(p.pid);
    const spawners = procs.filter((p) => p.args[1] === 'spawner');
    const standbys = procs.filter((p) => p.args[1] === 'standby');
    t.equal(spawners.length, 1, 'one spawner');
    t.equal(standbys.length, 2, 'two standbys');
    t.same(standbys.map((p) => p.ppid), [spawners[0]!.pid, spawners[0]!.pid], 'both its children');
    t.same(standbys[0]!.args, [monitorPath(), 'standby', own], "a standby's command line, as a spawned one's");
    t.same([spawners[0]!, ...standbys].map((p) => niceOf(p.pid)), [19, 19, 19], 'the spawner and its idle standbys yield the CPU (nice 19)');
    // a standby that takes a request runs the container at the normal priority
    const { r, spawned } = await fromStandby(pool, ['sleep', '30']);
    const client = r.client;
    client.release();
    t.same([niceOf(spawned.monitorPid), niceOf(spawned.pid)], [0, 0], 'its monitor and the container process: nice 0');
    const done = collect(client);
    client.signal(9);
    await done;
    client.close();
    await settled(t, r);
    pool.close();
    for (let i = 0; i < 200 && mine().length > 0; i++) await sleep(10);
    t.same(mine(), [], 'the spawner and its standbys are gone');
    for (const p of procs) pids.delete(p.pid);
  });

  t.test("sh -c 'exit 3' exits 3; stderr is its own stream", async (t) => {
    const o = await run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    t.equal(o.exit.exitCode, 3);
    t.equal(o.stdout, 'out\n');
    t.equal(o.stderr, 'err\n');
    const lines = readFileSync(o.r.cfg.log!, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    t.same(lines.map((l) => [l.log, l.stream]).sort(), [['err\n', 'stderr'], ['out\n', 'stdout']]);
    await settled(t, o.r);
  });

  t.test('a command that cannot be run: Docker messages and exit codes', async (t) => {
    const cases: Array<[string, string, number]> = [
      ['nope', 'exec: "nope": executable file not found in $PATH', 127],
      ['/etc/passwd', 'exec: "/etc/passwd": permission denied', 126],
      ['/nope', 'exec: "/nope": stat /nope: no such file or directory', 127],
    ];
    for (const [cmd, message, code] of cases) {
      const o = await run([cmd]);
      t.same(o.error, { message, exitCode: code }, cmd);
      t.equal(o.exit.exitCode, code);
      t.equal(o.exit.error, message);
      t.equal(o.exit.startedAt, '0001-01-01T00:00:00Z');
      t.notOk(o.started, 'no STARTED');
      await settled(t, o.r);
    }
  });

  t.test('stdin sent before GO and closed reaches cat', async (t) => {
    const o = await run(['sh', '-c', 'cat; echo done-after-eof'], { openStdin: true, stdinOnce: true }, (c) => {
      c.stdin(Buffer.from('hello\nworld\n'));
      c.closeStdin();
    });
    t.equal(o.stdout, 'hello\nworld\ndone-after-eof\n');
    t.equal(o.exit.exitCode, 0);
    await settled(t, o.r);
  });

  t.test('tty: /dev/pts/0 of its own devpts, RESIZE reaches stty, console is the pty', async (t) => {
    const o = await run(['sh', '-c', 'tty; stty size; ls -l /dev/console'], { tty: true, openStdin: true, consoleRows: 24, consoleCols: 80 }, (c) => c.resize(30, 100));
    t.match(o.stdout, /^\/dev\/pts\/0\r\n30 100\r\ncrw--w---- +1 root +5 +136, +0 /);
    t.equal(o.stderr, '');
    const first = JSON.parse(readFileSync(o.r.cfg.log!, 'utf8').split('\n')[0]);
    t.same([first.log, first.stream], ['/dev/pts/0\r\n', 'stdout'], 'tty output is logged as stdout');
    await settled(t, o.r);
  });

  t.test('SIGNAL: KILL ends sleep (137); TERM reaches a trap (143); a late client sees "running"', async (t) => {
    const r = await launch(['sleep', '100']);
    const done = collect(r.client);
    const started = new Promise((resolve) => r.client.once('started', resolve));
    r.client.go();
    await started;
    const late = await MonitorClient.connect(r.cfg.socket);
    t.equal(late.hello.state, 'running');
    t.equal(late.hello.pid, r.pid);
    t.notOk(readFileSync('/proc/self/mountinfo', 'utf8').includes(r.dir), 'the running container\'s mounts are not in the host\'s mountinfo');
    const lateExit = late.waitExit();
    r.client.signal(9);
    const o = await done;
    t.equal(o.exit.exitCode, 137);
    t.equal(o.exit.signal, 9);
    t.same(await lateExit, o.exit, 'the late client gets EXIT too');
    await settled(t, r);

    const r2 = await launch(['sh', '-c', 'trap "exit 143" TERM; echo ready; sleep 100 & wait']);
    const done2 = collect(r2.client);
    const ready = new Promise<void>((resolve) => r2.client.on('stdout', (b) => { if (b.toString().includes('ready')) resolve(); }));
    r2.client.go();
    await ready;
    r2.client.signal(15);
    const o2 = await done2;
    t.equal(o2.exit.exitCode, 143);
    await settled(t, r2);
  });

  t.test('hostname, capabilities (root and nobody), no leaked fds', async (t) => {
    const o = await run(['sh', '-c', 'hostname; grep -E "^Cap(Eff|Bnd)" /proc/self/status; ls /proc/self/fd']);
    t.match(o.stdout, /^box\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n0\n1\n2\n3\n$/);
    await settled(t, o.r);
    const n = await run(['sh', '-c', 'id; grep -E "^Cap(Eff|Bnd)" /proc/self/status'], { user: 'nobody' });
    t.equal(n.stdout, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n');
    await settled(t, n.r);
  });

  t.test('two clients at once both get the output', async (t) => {
    const r = await launch(['echo', 'both']);
    const second = await MonitorClient.connect(r.cfg.socket);
    second.attach({ stdout: true });
    const a = collect(r.client);
    const b = collect(second);
    r.client.go();
    const [oa, ob] = await Promise.all([a, b]);
    t.equal(oa.stdout, 'both\n');
    t.equal(ob.stdout, 'both\n');
    t.same(oa.exit, ob.exit);
    await settled(t, r);
  });

  t.test('json-file: Go escaping, invalid UTF-8, 16 KiB partial records', async (t) => {
    const o = await run(['sh', '-c', "printf '<a>&\\001\\377\\342\\200\\250\"\\\\\\t\\n'; head -c 20000 /dev/zero | tr '\\0' a; echo"]);
    const lines = readFileSync(o.r.cfg.log!, 'utf8').split('\n');
    t.equal(lines.length, 4, 'three records and the final newline');
    t.equal(lines[0].slice(0, lines[0].indexOf(',"stream"')), '{"log":"\\u003ca\\u003e\\u0026\\u0001\\ufffd\\u2028\\"\\\\\\t\\n"');
    const p1 = JSON.parse(lines[1]);
    const p2 = JSON.parse(lines[2]);
    t.equal(p1.log, 'a'.repeat(16384), 'a full 16 KiB partial record, no newline');
    t.equal(p2.log, 'a'.repeat(20000 - 16384) + '\n');
    t.equal(p2.time, p1.time, 'the records of one line share its time');
    await settled(t, o.r);
  });

  t.test('a socket path longer than sun_path', async (t) => {
    const deep = join(base, 'd'.repeat(60), 'e'.repeat(60));
    const r = await launch(['echo', 'long'], {}, deep);
    t.ok(r.cfg.socket.length > 107);
    const o = collect(r.client);
    r.client.go();
    t.equal((await o).stdout, 'long\n');
    await settled(t, r);
  });

  t.test('setup failures come back as `error <message>`', async (t) => {
    const dir = join(base, 'bad');
    mkdirSync(dir);
    await t.rejects(spawnMonitor({
      id: 'f'.repeat(64), socket: join(dir, 's'), exitFile: join(dir, 'exit'), lowers: [join(base, 'missing')], upper: join(dir, 'u'), work: join(dir, 'w'),
      rootfs: join(dir, 'r'), args: ['true'], env: [], tty: false, openStdin: false, stdinOnce: false, configFile: join(dir, 'config'), monitorLog: join(dir, 'monitor.log'),
    }), /overlay/);
    t.notOk(existsSync(join(dir, 's')), 'no socket left');
  });

  const memRoot = '/sys/fs/cgroup/memory';
  t.test('an init cloned alone (autostarted standby) joins its cgroups itself before its exec', { skip: existsSync(join(memRoot, 'cgroup.procs')) ? false : 'no cgroup v1 memory hierarchy' }, async (t) => {
    const cg = join(memRoot, `berth-test-${process.pid}-alone`);
    mkdirSync(cg);
    cgroups.push(cg);
    const pool = new MonitorPool(base);
    t.teardown(() => pool.close());
    await pool.refill();
    const { r } = await fromStandby(pool, ['cat', '/proc/self/cgroup'], { cgroupProcs: [join(cg, 'cgroup.procs')] });
    const client = r.client;
    const done = collect(client);
    client.release();
    const o = await done;
    t.equal(o.exit.exitCode, 0);
    t.match(o.stdout, new RegExp(`:memory:/berth-test-${process.pid}-alone\\n`), 'the process ran in the memory cgroup it was given');
    client.close();
    await settled(t, r);
    rmdirSync(cg);
    cgroups.splice(cgroups.indexOf(cg), 1);
  });

  t.test('a v1 memory cgroup OOM kill is reported', { skip: existsSync(join(memRoot, 'memory.oom_control')) ? false : 'no cgroup v1 memory controller' }, async (t) => {
    const cg = join(memRoot, `berth-test-${process.pid}`);
    mkdirSync(cg);
    cgroups.push(cg);
    writeFileSync(join(cg, 'memory.limit_in_bytes'), String(32 << 20));
    if (existsSync(join(cg, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(cg, 'memory.memsw.limit_in_bytes'), String(32 << 20));
    const o = await run(['tail', '/dev/zero'], { cgroupProcs: [join(cg, 'cgroup.procs')], oomFile: join(cg, 'memory.oom_control') });
    t.equal(o.exit.oomKilled, true);
    t.equal(o.exit.exitCode, 137);
    await settled(t, o.r);
    rmdirSync(cg);
    cgroups.splice(cgroups.indexOf(cg), 1);
  });

  t.test('nothing remains', async (t) => {
    t.equal(pids.size, 0, 'every monitor and init was seen gone');
    t.notOk(readFileSync('/proc/self/mountinfo', 'utf8').includes(base), 'no mounts under the test dir');
    const socks = readdirSync(base, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.sock'));
    t.same(socks, [], 'no sockets');
  });
}

/** The nice value in /proc/PID/stat. */
function niceOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** berth-monitor processes whose last argument is `root` (a pool's exec root). */
function monitorsOf(root: string): Array<{ pid: number; ppid: number; args: string[] }> {
  const out: Array<{ pid: number; ppid: number; args: string[] }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').slice(0, -1);
      if (args[0] !== monitorPath() || args[args.length - 1] !== root) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      out.push({ pid: Number(name), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]), args });
    } catch { /* gone */ }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie still answers kill(0)
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
