// `docker exec` through the real Docker CLI on real containers: output and exit codes, stdin,
// -t under a real terminal, -d, -e/--env-file, -u, -w, --privileged, start failures, stopped
// and unknown targets, ExecIDs, events, concurrency, the container's end and its cgroup.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pty from 'node-pty';
import type { Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });
t.before(async () => {
  if (skip) return;
  await dockerOk(d, ['run', '-d', '--name', 'box', '-e', 'FROM_CTR=c', '-e', 'SHARED=ctr', 'busybox', 'sleep', '100000']);
});

async function inspect(ref: string): Promise<Record<string, any>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<Record<string, any>>)[0]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('echo hi; exit codes; stderr apart; the container\'s namespaces', { skip }, async (t) => {
  const r = await docker(d, ['exec', 'box', 'echo', 'hi']);
  t.equal(r.stdout, 'hi\n');
  t.equal(r.code, 0);
  t.equal((await docker(d, ['exec', 'box', 'sh', '-c', 'exit 7'])).code, 7);
  const both = await docker(d, ['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  t.equal(both.stdout, 'out\n');
  t.equal(both.stderr, 'err\n');
  t.equal(both.code, 3);
  const c = await inspect('box');
  const ns = await dockerOk(d, ['exec', 'box', 'sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "']);
  t.equal(ns.stdout, `${c.Id.slice(0, 12)}\nsleep 100000 `, 'the container\'s hostname and pid namespace');
  const log = await dockerOk(d, ['logs', 'box']);
  t.equal(log.stdout + log.stderr, '', 'exec output is not in the container\'s log');
});

t.test('-i: piped stdin, its end closes the process\'s stdin', { skip }, async (t) => {
  const r = await docker(d, ['exec', '-i', 'box', 'sh', '-c', 'cat; echo after-eof'], { input: 'hi\nthere\n' });
  t.equal(r.stdout, 'hi\nthere\nafter-eof\n');
  t.equal(r.code, 0);
});

t.test('-t under a real terminal: a tty, its size and resize, the exit code', { skip }, async (t) => {
  const term = pty.spawn('docker', ['exec', '-it', 'box', 'sh'], { name: 'xterm', cols: 100, rows: 30, env: d.env as Record<string, string> });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  t.teardown(() => { try { term.kill(); } catch { /* gone */ } });
  let text = '';
  term.onData((s) => { text += s; });
  const waitFor = async (re: RegExp) => {
    for (let i = 0; i < 200; i++) {
      if (re.test(text)) return;
      await sleep(50);
    }
    throw new Error(`never saw ${re}; the terminal shows ${JSON.stringify(text)}`);
  };
  await waitFor(/# (\x1b\[6n)?$/);
  term.write('tty; stty size; echo $TERM\r');
  await waitFor(/\/dev\/pts\/\d+\r\n30 100\r\nxterm\r\n/);
  t.pass('a pty of the container\'s devpts with the client\'s size, TERM=xterm');
  term.resize(120, 40);
  for (let i = 0; i < 50 && !/40 120\r\n/.test(text); i++) {
    term.write('stty size\r');
    await sleep(100);
  }
  t.match(text, /40 120\r\n/, 'resize reaches the exec');
  term.write('exit 4\r');
  t.equal(await exited, 4);
});

t.test('-d runs in the background; -e and --env-file over the container\'s Env', { skip }, async (t) => {
  const det = await dockerOk(d, ['exec', '-d', 'box', 'sh', '-c', 'echo bg > /tmp/bg-done']);
  t.equal(det.stdout, '');
  let seen = '';
  for (let i = 0; i < 100 && seen !== 'bg\n'; i++) {
    seen = (await docker(d, ['exec', 'box', 'cat', '/tmp/bg-done'])).stdout;
    if (seen !== 'bg\n') await sleep(50);
  }
  t.equal(seen, 'bg\n');
  const envFile = join(d.dir, 'exec.env');
  writeFileSync(envFile, 'FROM_FILE=f\n# comment\n');
  const r = await dockerOk(d, ['exec', '-e', 'SHARED=exec', '-e', 'ONLY_EXEC=x', '--env-file', envFile, 'box', 'sh', '-c', 'echo $FROM_CTR $SHARED $ONLY_EXEC $FROM_FILE $HOME; echo $PATH']);
  t.equal(r.stdout, 'c exec x f /root\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
});

t.test('-u by name and uid:gid, -w, --privileged', { skip }, async (t) => {
  const byName = await dockerOk(d, ['exec', '-u', 'nobody', 'box', 'sh', '-c', 'id -u; id -g; id -G']);
  t.match(byName.stdout, /^65534\n65534\n65534\n$/);
  const byIds = await dockerOk(d, ['exec', '-u', '1234:5678', 'box', 'sh', '-c', 'id -u; id -g; id -G']);
  t.equal(byIds.stdout, '1234\n5678\n5678\n');
  t.equal((await dockerOk(d, ['exec', '-w', '/etc', 'box', 'pwd'])).stdout, '/etc\n');
  const noDir = await docker(d, ['exec', '-w', '/nowhere', 'box', 'pwd']);
  t.equal(noDir.code, 126);
  t.match(noDir.stdout, 'OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/nowhere") set in config.json failed: no such file or directory');
  const caps = (await dockerOk(d, ['exec', 'box', 'grep', 'CapEff', '/proc/self/status'])).stdout;
  t.equal(caps, 'CapEff:\t00000000a80425fb\n', 'Docker\'s default capabilities');
  const priv = (await dockerOk(d, ['exec', '--privileged', 'box', 'grep', 'CapEff', '/proc/self/status'])).stdout;
  t.not(priv, caps);
  t.match(priv, /^CapEff:\t0000[0-9a-f]{2}ff[0-9a-f]{8}\n$/, 'every capability berthd holds');
});

t.test('a missing command: 127 and Docker\'s message; a non-executable: 126', { skip }, async (t) => {
  const r = await docker(d, ['exec', 'box', 'nope']);
  t.equal(r.code, 127);
  t.match(r.stdout + r.stderr, 'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH');
  const n = await docker(d, ['exec', 'box', '/etc/passwd']);
  t.equal(n.code, 126);
  t.match(n.stdout, 'permission denied');
});

t.test('a stopped container: "is not running"; an unknown exec: 404 over raw HTTP', { skip }, async (t) => {
  await dockerOk(d, ['create', '--name', 'idle', 'busybox', 'true']);
  const r = await docker(d, ['exec', 'idle', 'true']);
  t.equal(r.code, 1);
  t.match(r.stderr, /is not running/);
  const raw = await d.request('POST', '/containers/idle/exec', { Cmd: ['true'] });
  t.equal(raw.status, 409);
  t.match(JSON.parse(raw.body).message, /^Container [0-9a-f]{64} is not running$/);
  await dockerOk(d, ['rm', 'idle']);
  for (const [method, path] of [['GET', '/exec/nope/json'], ['POST', '/exec/nope/resize?h=1&w=1'], ['POST', '/exec/nope/start']] as const) {
    const u = await d.request(method, path, method === 'POST' ? {} : undefined);
    t.equal(u.status, 404, `${method} ${path}`);
    t.same(JSON.parse(u.body), { message: 'No such exec instance: nope' });
  }
});

t.test('exec create/inspect over the API: ExecIDs, ProcessConfig, ExitCode; events', { skip }, async (t) => {
  const c = await inspect('box');
  t.equal(c.ExecIDs, null, 'no exec sessions: null');
  const since = Math.floor(Date.now() / 1000) - 1;
  const created = await d.request('POST', '/containers/box/exec', { Cmd: ['sh', '-c', 'echo hi'], AttachStdout: true, User: 'nobody' });
  t.equal(created.status, 201);
  const id = JSON.parse(created.body).Id as string;
  t.match(id, /^[0-9a-f]{64}$/);
  t.same((await inspect('box')).ExecIDs, [id]);
  const before = JSON.parse((await d.request('GET', `/exec/${id}/json`)).body);
  t.match(before, {
    ID: id, Running: false, ExitCode: null, OpenStdin: false, OpenStdout: true, OpenStderr: false, ContainerID: c.Id, Pid: 0,
    ProcessConfig: { tty: false, entrypoint: 'sh', arguments: ['-c', 'echo hi'], privileged: false, user: 'nobody' },
  });
  const resize = await d.request('POST', `/exec/${id}/resize?h=10&w=20`);
  t.equal(resize.status, 200, 'a resize before the start is accepted');
  const started = await d.request('POST', `/exec/${id}/start`, { Detach: false, Tty: false });
  t.equal(started.status, 200);
  t.equal(started.body, '\x01\x00\x00\x00\x00\x00\x00\x03hi\n', 'one stdout frame');
  const after = JSON.parse((await d.request('GET', `/exec/${id}/json`)).body);
  t.match(after, { Running: false, ExitCode: 0, CanRemove: true });
  t.ok(after.Pid > 0);
  t.equal((await inspect('box')).ExecIDs, null, 'an ended exec is not listed');
  const again = await d.request('POST', `/exec/${id}/start`, {});
  t.equal(again.status, 409);

  await dockerOk(d, ['exec', 'box', 'sh', '-c', 'exit 5']).catch(() => {});
  const until = Math.ceil(Date.now() / 1000) + 1;
  const ev = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'container=box', '--format', '{{.Action}}|{{.Actor.Attributes.execID}}|{{.Actor.Attributes.exitCode}}']);
  // a missing attribute prints as <no value>
  const lines = ev.stdout.trim().split('\n').map((l) => l.replace(/<no value>/g, ''));
  t.ok(lines.includes(`exec_create: sh -c echo hi|${id}|`), 'exec_create names the command');
  t.ok(lines.includes(`exec_start: sh -c echo hi|${id}|`));
  t.ok(lines.includes(`exec_die|${id}|0`), `exec_die with exitCode in ${JSON.stringify(lines)}`);
  t.ok(lines.some((l) => /^exec_die\|[0-9a-f]{64}\|5$/.test(l)), 'exec_die carries the exit code');
});

t.test('10 concurrent execs', { skip }, async (t) => {
  const runs = await Promise.all(Array.from({ length: 10 }, (_, i) => docker(d, ['exec', 'box', 'sh', '-c', `echo n${i}; exit ${i}`])));
  runs.forEach((r, i) => {
    t.equal(r.stdout, `n${i}\n`);
    t.equal(r.code, i);
  });
});

t.test('an exec\'s process dies when the container stops', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'short', 'busybox', 'sleep', '100000']);
  const long = docker(d, ['exec', 'short', 'sleep', '1000']);
  for (let i = 0; i < 100; i++) {
    const ids = (await inspect('short')).ExecIDs as string[] | null;
    if (ids && ids.length) {
      const j = JSON.parse((await d.request('GET', `/exec/${ids[0]}/json`)).body);
      if (j.Running && j.Pid > 0) break;
    }
    await sleep(50);
  }
  await dockerOk(d, ['stop', '-t', '1', 'short']);
  const r = await long;
  t.equal(r.code, 137, 'killed with the container\'s pid namespace');
  await dockerOk(d, ['rm', 'short']);
});

t.test('an exec\'s processes count against the container\'s pids limit', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'pl', '--pids-limit', '4', 'busybox', 'sleep', '100000']);
  const r = await docker(d, ['exec', 'pl', 'sh', '-c', 'for i in 1 2 3 4 5 6; do sleep 5 & done; wait']);
  t.match(r.stderr, /can't fork|Resource temporarily unavailable/, 'forks past the limit fail');
  await dockerOk(d, ['rm', '-f', 'pl']);
});

t.test('a paused container: 409 "is paused"', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'pz', 'busybox', 'sleep', '100000']);
  const p = await docker(d, ['pause', 'pz']);
  if (p.code !== 0) {
    t.comment(`pause is not available: ${p.stderr.trim()}`);
  } else {
    const r = await docker(d, ['exec', 'pz', 'true']);
    t.equal(r.code, 1);
    t.match(r.stderr, /Container [0-9a-f]{64} is paused, unpause the container before exec/);
    await dockerOk(d, ['unpause', 'pz']);
  }
  await dockerOk(d, ['rm', '-f', 'pz']);
});

t.test('cleanup', { skip }, async () => {
  await dockerOk(d, ['rm', '-f', 'box']);
});
