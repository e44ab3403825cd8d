// berth-monitor's exec mode against the real kernel: a process started inside a container that
// a container-mode monitor runs, through MonitorClient: namespaces, root, user, cwd, stdio
// (pipes and a pty of the container's devpts), capabilities, cgroup, exit codes, start errors.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  MonitorClient, spawnMonitor, type MonitorConfig,
} from '../../daemon/backend/containers/monitor-client';
import { collect, type Outcome } from '../helpers/monitor-outcome';
import { monitorPath } from '../../daemon/native/binding';

const BUSYBOX = '/bin/busybox';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts)';
  if (!existsSync(monitorPath())) return `berth-monitor is not built (${monitorPath()}); run npm run build:native`;
  if (!existsSync(BUSYBOX)) return `no static busybox at ${BUSYBOX} to build a test rootfs`;
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) return 'the kernel has no overlayfs';
  return false;
}

/** The mount point of the v1 pids hierarchy, or null. */
function pidsRoot(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.startsWith('cgroup ') && right.split(' ')[2]?.split(',').includes('pids')) return left!.split(' ')[4]!;
  }
  return null;
}

const skip = skipReason();
if (skip) t.test('berth-monitor exec against the kernel', { skip }, () => {});
else main();

function main(): void {
  const base = mkdtempSync(join(tmpdir(), 'berth-exec-test-'));
  const pids = new Set<number>();
  const cgroups: string[] = [];
  t.teardown(() => {
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    for (let i = 0; i < 50 && cgroups.length; i++) {
      for (const cg of [...cgroups]) {
        try { rmdirSync(cg); cgroups.splice(cgroups.indexOf(cg), 1); } catch { /* still busy */ }
      }
      if (cgroups.length) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    rmSync(base, { recursive: true, force: true });
  });

  const lower = join(base, 'lower');
  mkdirSync(join(lower, 'bin'), { recursive: true });
  mkdirSync(join(lower, 'etc'));
  mkdirSync(join(lower, 'home/app'), { recursive: true });
  copyFileSync(BUSYBOX, join(lower, 'bin/busybox'));
  for (const a of spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((x) => x && x !== 'busybox')) symlinkSync('busybox', join(lower, 'bin', a));
  writeFileSync(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  writeFileSync(join(lower, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1000:\nextra:x:60:app\n');
  writeFileSync(join(lower, 'marker'), 'in the image\n');

  let seq = 0;
  const pidsCg = pidsRoot();
  const cg = pidsCg ? join(pidsCg, `berth-exec-test-${process.pid}`) : null;

  /** The container: `sleep` as its init, in a pids cgroup when the host has one. */
  let container: { pid: number; client: MonitorClient; done: Promise<Outcome>; dir: string; cfg: MonitorConfig };

  t.before(async () => {
    if (cg) {
      mkdirSync(cg);
      cgroups.push(cg);
    }
    const dir = join(base, 'ctr');
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(dir, d), { recursive: true });
    const cfg: MonitorConfig = {
      id: 'c'.repeat(64), socket: join(dir, 'monitor.sock'), log: join(dir, 'json.log'), exitFile: join(dir, 'exit.json'),
      lowers: [lower], upper: join(dir, 'upper'), work: join(dir, 'work'), rootfs: join(dir, 'rootfs'), hostname: 'box',
      args: ['sleep', '1000'], env: ['PATH=/bin', 'FROM=container'], tty: false, openStdin: false, stdinOnce: false,
      cgroupProcs: cg ? [join(cg, 'cgroup.procs')] : [],
    };
    const { pid, monitorPid } = await spawnMonitor({ ...cfg, configFile: join(dir, 'config'), monitorLog: join(dir, 'monitor.log') });
    pids.add(pid);
    pids.add(monitorPid);
    const client = await MonitorClient.connect(cfg.socket);
    client.attach({ stdout: true, stderr: true });
    const done = collect(client);
    const started = new Promise((resolve) => client.once('started', resolve));
    client.go();
    await started;
    container = { pid, client, done, dir, cfg };
  });

  async function launchExec(args: string[], extra: Partial<MonitorConfig> = {}) {
    const dir = join(base, `x${++seq}`);
    mkdirSync(dir);
    const cfg: MonitorConfig = {
      mode: 'exec', id: seq.toString(16).padStart(64, 'e'), socket: join(dir, 'monitor.sock'), exitFile: join(dir, 'exit.json'),
      targetPid: container.pid, args, env: ['PATH=/bin', 'FROM=exec'], tty: false, openStdin: false, stdinOnce: false,
      cgroupProcs: container.cfg.cgroupProcs, ...extra,
    };
    const { pid, monitorPid } = await spawnMonitor({ ...cfg, configFile: join(dir, 'config'), monitorLog: join(dir, 'monitor.log') });
    pids.add(pid);
    pids.add(monitorPid);
    const client = await MonitorClient.connect(cfg.socket);
    client.attach({ stdout: true, stderr: true });
    return { dir, cfg, pid, monitorPid, client };
  }

  async function exec(args: string[], extra: Partial<MonitorConfig> = {}, before?: (c: MonitorClient) => void): Promise<Outcome & { pid: number; cfg: MonitorConfig }> {
    const x = await launchExec(args, extra);
    const done = collect(x.client);
    before?.(x.client);
    x.client.go();
    const o = await done;
    pids.delete(x.pid);
    return { ...o, pid: x.pid, cfg: x.cfg };
  }

  t.test('the container\'s namespaces and root; exit file; nothing in the container\'s log', async (t) => {
    const o = await exec(['sh', '-c', 'hostname; cat /marker; cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$; echo $FROM; pwd; ls /proc/self/fd']);
    t.equal(o.exit.exitCode, 0);
    t.equal(o.stdout, 'box\nin the image\nsleep 1000 \n' + o.stdout.split('\n')[3] + '\nexec\n/\n0\n1\n2\n3\n');
    t.ok(Number(o.stdout.split('\n')[3]) > 1, 'a pid of the container\'s pid namespace');
    t.ok(o.started && o.started.pid === o.pid, 'STARTED with the host pid');
    t.same(JSON.parse(readFileSync(o.cfg.exitFile, 'utf8')), o.exit);
    t.equal(existsSync(container.cfg.log!) ? readFileSync(container.cfg.log!, 'utf8') : '', '', 'exec output is not logged');
  });

  t.test('exit codes and stderr apart', async (t) => {
    const o = await exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
    t.equal(o.exit.exitCode, 7);
    t.equal(o.stdout, 'out\n');
    t.equal(o.stderr, 'err\n');
  });

  t.test('start failures: Docker messages, 127 and 126', async (t) => {
    const cases: Array<[string[], Partial<MonitorConfig>, string, number]> = [
      [['nope'], {}, 'exec: "nope": executable file not found in $PATH', 127],
      [['/etc/passwd'], {}, 'exec: "/etc/passwd": permission denied', 126],
      [['pwd'], { cwd: '/nowhere' }, 'chdir to cwd ("/nowhere") set in config.json failed: no such file or directory', 126],
      [['id'], { user: 'nobody' }, 'unable to find user nobody: no matching entries in passwd file', 126],
    ];
    for (const [args, extra, message, code] of cases) {
      const o = await exec(args, extra);
      t.same(o.error, { message, exitCode: code }, args.join(' '));
      t.equal(o.exit.exitCode, code);
      t.notOk(o.started);
    }
    t.notOk(existsSync(join(container.dir, 'rootfs', 'nowhere')), 'the missing workdir is not created');
  });

  t.test('user by name and by uid:gid, supplementary groups, cwd, HOME', async (t) => {
    const a = await exec(['sh', '-c', 'id -u; id -g; id -G; echo $HOME; pwd'], { user: 'app', cwd: '/home' });
    t.equal(a.stdout, '1000\n1000\n1000 50 60\n/home/app\n/home\n');
    const b = await exec(['sh', '-c', 'id -u; id -g; id -G'], { user: '1000:50' });
    t.equal(b.stdout, '1000\n50\n50\n');
  });

  t.test('capabilities: Docker\'s default set, all with privileged', async (t) => {
    const d = await exec(['sh', '-c', 'grep -E "^Cap(Eff|Bnd)" /proc/self/status']);
    t.equal(d.stdout, 'CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n');
    const p = await exec(['sh', '-c', 'grep -E "^CapEff" /proc/self/status'], { privileged: true });
    const host = /^CapEff:\t(\w+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1];
    t.equal(p.stdout, `CapEff:\t${host}\n`);
  });

  t.test('stdin before GO, then closed, reaches cat', async (t) => {
    const o = await exec(['sh', '-c', 'cat; echo eof'], { openStdin: true, stdinOnce: true }, (c) => {
      c.stdin(Buffer.from('in1\n'));
      c.closeStdin();
    });
    t.equal(o.stdout, 'in1\neof\n');
  });

  t.test('tty: a pty of the container\'s devpts, its size', async (t) => {
    const o = await exec(['sh', '-c', 'tty; stty size'], { tty: true, openStdin: true, consoleRows: 24, consoleCols: 80 }, (c) => c.resize(30, 100));
    t.match(o.stdout, /^\/dev\/pts\/\d+\r\n30 100\r\n$/);
  });

  t.test('the exec joins the container\'s cgroup', { skip: cg ? false : 'no v1 pids hierarchy' }, async (t) => {
    const o = await exec(['cat', '/proc/self/cgroup']);
    t.match(o.stdout, new RegExp(`:pids:/berth-exec-test-${process.pid}\\n`));
  });

  t.test('an exec in a container whose init is gone fails; a running exec dies with the container', async (t) => {
    const x = await launchExec(['sleep', '1000']);
    const done = collect(x.client);
    const started = new Promise((resolve) => x.client.once('started', resolve));
    x.client.go();
    await started;
    container.client.signal(9);
    const c = await container.done;
    t.equal(c.exit.exitCode, 137);
    const o = await done;
    t.equal(o.exit.exitCode, 137, 'killed with the pid namespace');
    pids.delete(x.pid);
    await t.rejects(launchExec(['true']), /the container's process \d+|fork into the container's pid namespace/);
  });
}
