// A start takes the pool's standby; the replacement is forked a moment later, and only if the
// container still runs then: one that has ended gave its monitor back to the pool (or its
// monitor's exit refilled it), and a fork then would only make a standby the pool turns away.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { refillAfterStart } from '../../daemon/backend/containers/runtime';

class Link extends EventEmitter {
  state = 'created';
  run(): void {
    this.state = 'running';
    this.emit('started');
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a container still running when the delay has passed: the pool is refilled, once', async (t) => {
  const link = new Link();
  let refills = 0;
  refillAfterStart(link, () => refills++, 10);
  await sleep(30);
  t.equal(refills, 0, 'nothing before the process has started');
  link.run();
  await sleep(40);
  t.equal(refills, 1);
});

t.test('a container that ended within the delay: no refill', async (t) => {
  const link = new Link();
  let refills = 0;
  refillAfterStart(link, () => refills++, 10);
  link.run();
  link.state = 'exited';
  await sleep(40);
  t.equal(refills, 0);
});
