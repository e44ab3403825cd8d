// Healthchecks through the real CLI: --health-* flags, State.Health, ps text and filter, events.
import t from 'tap';
import { e2eSkipReason, startDaemon } from '../helpers/daemon';
import { dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a healthcheck goes starting → unhealthy → healthy, visible everywhere', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  const since = Math.floor(Date.now() / 1000) - 1;
  await dockerOk(d, ['run', '-d', '--name', 'hc', '--health-cmd', 'test -f /tmp/ok && echo fine', '--health-interval', '300ms',
    '--health-retries', '2', 'busybox', 'sh', '-c', 'sleep 1.5; touch /tmp/ok; exec sleep 1000']);
  const health = async () => JSON.parse((await dockerOk(d, ['inspect', '-f', '{{json .State.Health}}', 'hc'])).stdout);
  t.equal((await health()).Status, 'starting');
  t.match((await dockerOk(d, ['ps', '--filter', 'name=hc', '--format', '{{.Status}}'])).stdout, /\(health: starting\)/);
  let h = await health();
  for (let i = 0; i < 100 && h.Status !== 'unhealthy'; i++) { await sleep(100); h = await health(); }
  t.equal(h.Status, 'unhealthy', 'two failures make it unhealthy');
  t.ok(h.FailingStreak >= 2);
  t.equal(h.Log.at(-1).ExitCode, 1);
  for (let i = 0; i < 100 && h.Status !== 'healthy'; i++) { await sleep(100); h = await health(); }
  t.equal(h.Status, 'healthy');
  t.equal(h.FailingStreak, 0);
  t.equal(h.Log.at(-1).Output, 'fine\n');
  t.ok(h.Log.length <= 5, 'the last five results at most');
  t.match((await dockerOk(d, ['ps', '--format', '{{.Status}}'])).stdout, /^Up .* \(healthy\)\n$/);
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'health=healthy'])).stdout.trim().length, 12);
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'health=unhealthy'])).stdout, '');
  const until = Math.ceil(Date.now() / 1000) + 1;
  const ev = await dockerOk(d, ['events', '--since', String(since), '--until', String(until), '--filter', 'container=hc', '--filter', 'event=health_status', '--format', '{{.Action}}']);
  t.same(ev.stdout.trim().split('\n'), ['health_status: unhealthy', 'health_status: healthy']);
  await dockerOk(d, ['rm', '-f', 'hc']);
});

t.test('--no-healthcheck and containers without one have no Health', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  await dockerOk(d, ['run', '-d', '--name', 'nh', '--no-healthcheck', 'busybox', 'sleep', '1000']);
  t.equal((await dockerOk(d, ['inspect', '-f', '{{json .State.Health}}', 'nh'])).stdout.trim(), 'null');
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'health=none'])).stdout.trim().length, 12);
  await dockerOk(d, ['rm', '-f', 'nh']);
});
