// The service-manager side of berthd without a service manager: the fds of socket
// activation, sd_notify's environment, the move into a leaf cgroup on cgroup v2 (against a
// temporary directory: cgroup v2 cannot be exercised on these machines, whose controllers are
// bound to v1, and PID 1 is not systemd), and the Prometheus exposition.
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fdsForHost, moveToLeafCgroup, notifier, takeListenFds } from '../../daemon/systemd';
import { Counter, Histogram, Metrics, parseListenAddr } from '../../daemon/server/metrics';

t.test('LISTEN_FDS: taken only when LISTEN_PID is ours, and removed from the environment', async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '2', LISTEN_PID: '42', LISTEN_FDNAMES: 'berth.socket:x', PATH: '/bin' };
  t.same(takeListenFds(env, 42), [3, 4]);
  t.same(env, { PATH: '/bin' }, 'no child inherits them');
  t.same(takeListenFds({ LISTEN_FDS: '1', LISTEN_PID: '7' }, 42), [], 'meant for another process');
  t.same(takeListenFds({}, 42), []);
  t.same(takeListenFds({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42), []);
});

t.test('fd:// takes every passed socket, fd://N that one; without any, dockerd\'s message', async (t) => {
  t.same(fdsForHost('fd://', [3, 4]), [3, 4]);
  t.same(fdsForHost('fd://4', [3, 4]), [4]);
  t.throws(() => fdsForHost('fd://', []), { message: 'fd://: no sockets found via socket activation: make sure the service was started by systemd' });
  t.throws(() => fdsForHost('fd://9', [3]), { message: 'fd://9: fd 9 was not passed by systemd (passed: 3)' });
});

t.test('notifier: sends to NOTIFY_SOCKET, takes it out of the environment, reports but never throws', async (t) => {
  const sent: Array<[string, string]> = [];
  const errors: string[] = [];
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify' };
  const notify = notifier((s, m) => {
    if (m === 'boom') throw new Error('sendto: ECONNREFUSED');
    sent.push([s, m]);
  }, (e) => errors.push(e.message), env);
  t.same(env, {});
  notify('READY=1');
  notify('boom');
  t.same(sent, [['@/org/freedesktop/systemd1/notify', 'READY=1']]);
  t.same(errors, ['sendto: ECONNREFUSED']);
  const none = notifier(() => t.fail('no socket, no send'), () => t.fail('no error'), {});
  none('READY=1');
});

t.test('cgroup v2 with Delegate=yes: berthd moves into <own cgroup>/berthd (a temporary cgroup2 tree)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-cg2-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'system.slice/berth.service'), { recursive: true });
  const self = '0::/system.slice/berth.service\n';
  const leaf = moveToLeafCgroup({ mode: 'v2', v2: root }, 1234, self);
  t.equal(leaf, join(root, 'system.slice/berth.service/berthd'));
  t.equal(readFileSync(join(leaf!, 'cgroup.procs'), 'utf8'), '1234\n');
  t.equal(moveToLeafCgroup({ mode: 'v2', v2: root }, 1234, '0::/system.slice/berth.service/berthd\n'), null, 'already in the leaf');
  t.equal(moveToLeafCgroup({ mode: 'v2', v2: root }, 1234, '0::/\n'), null, 'the root cgroup may hold processes');
  t.equal(moveToLeafCgroup({ mode: 'v1', v2: root }, 1234, '4:memory:/x\n0::/system.slice/berth.service\n'), null, 'v1 and hybrid: nothing');
  t.equal(moveToLeafCgroup({ mode: 'v2', v2: null }, 1234, self), null);
});

t.test('exposition: counters, cumulative histogram buckets, label escaping', async (t) => {
  const c = new Counter('x_total', 'X.');
  t.equal(c.render(), '# HELP x_total X.\n# TYPE x_total counter\nx_total 0\n', 'a counter never seen is 0');
  c.inc({ route: '/a"b\\c\nd' });
  c.inc({ route: '/a"b\\c\nd' }, 2);
  t.match(c.render(), /^x_total\{route="\/a\\"b\\\\c\\nd"\} 3$/m);

  const h = new Histogram('h_seconds', 'H.', [0.1, 1]);
  for (const v of [0.05, 0.5, 0.5, 3]) h.observe({ op: 'x' }, v);
  t.equal(h.render(), [
    '# HELP h_seconds H.', '# TYPE h_seconds histogram',
    'h_seconds_bucket{op="x",le="0.1"} 1', 'h_seconds_bucket{op="x",le="1"} 3', 'h_seconds_bucket{op="x",le="+Inf"} 4',
    'h_seconds_sum{op="x"} 4.05', 'h_seconds_count{op="x"} 4', '',
  ].join('\n'));

  const m = new Metrics('9.9.9');
  t.notMatch(m.render(), /engine_daemon_container_states_containers/, 'no engine figures before the engine exists');
  m.attach({ containers: () => ({ running: 2, paused: 1, stopped: 3 }), images: () => 4, layers: () => ({ count: 5, bytes: 6000 }) });
  m.containerStarted(0.02);
  m.restarts.inc();
  const text = m.render();
  t.match(text, /^engine_daemon_engine_info\{version="9.9.9",daemon="berthd",os="linux"\} 1$/m);
  t.match(text, /^engine_daemon_container_states_containers\{state="paused"\} 1$/m);
  t.match(text, /^berth_layer_bytes 6000$/m);
  t.match(text, /^engine_daemon_container_actions_seconds_count\{action="start"\} 1$/m);
  t.match(text, /^berth_container_restarts_total 1$/m);
  t.match(text, /^# TYPE process_resident_memory_bytes gauge$/m);
});

t.test('metrics-addr: host:port, IPv6 in brackets', async (t) => {
  t.same(parseListenAddr('127.0.0.1:9323'), { host: '127.0.0.1', port: 9323 });
  t.same(parseListenAddr('[::1]:9323'), { host: '::1', port: 9323 });
  t.same(parseListenAddr('localhost:1'), { host: 'localhost', port: 1 });
});
