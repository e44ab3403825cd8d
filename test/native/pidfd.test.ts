// pidfd helpers: open, liveness without reaping, signal, close.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import t from 'tap';
import { realNativeOps } from '../../daemon/native/ops';

const ops = realNativeOps();

t.test('a pidfd follows a process from running to exited', async (t) => {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => { child.kill('SIGKILL'); });
  await once(child, 'spawn');
  const fd = ops.pidfdOpen(child.pid!);
  t.teardown(() => { try { ops.closeFd(fd); } catch { /* closed by the test */ } });
  t.ok(fd > 2, 'a file descriptor');
  t.equal(ops.pidfdAlive(fd), true, 'alive while it sleeps');
  const exited = once(child, 'exit');
  ops.pidfdSendSignal(fd, 'SIGTERM');
  const [code, signal] = await exited;
  t.equal(code, null);
  t.equal(signal, 'SIGTERM', 'the signal arrived');
  t.equal(ops.pidfdAlive(fd), false, 'not alive once exited (and reaped)');
  const err = t.throws(() => ops.pidfdSendSignal(fd, 9)) as NodeJS.ErrnoException;
  t.equal(err.code, 'ESRCH', 'signalling an exited process is ESRCH');
  ops.closeFd(fd);
  t.equal((t.throws(() => ops.pidfdAlive(fd)) as NodeJS.ErrnoException).code, 'EBADF', 'a closed fd is EBADF');
});

t.test('pidfdOpen of no process fails with ESRCH or EINVAL', async (t) => {
  t.equal((t.throws(() => ops.pidfdOpen(0x3fffffff)) as NodeJS.ErrnoException).code, 'ESRCH');
  t.equal((t.throws(() => ops.pidfdOpen(0)) as NodeJS.ErrnoException).code, 'EINVAL');
  t.throws(() => ops.pidfdSendSignal(0, 'SIGNOPE' as NodeJS.Signals), /unknown signal/);
});
