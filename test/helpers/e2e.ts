// The preamble of an e2e file: one daemon for the whole file, started before its first test with
// the offline busybox image imported, torn down after its last (startDaemon's teardown).
import { e2eSkipReason, startDaemon, type Daemon, type DaemonOptions, type TestLike } from './daemon';
import { importTestImage } from './test-image';

/**
 * The file's daemon. Tests use it as the Daemon itself; it is there from the file's `t.before`
 * on (a file's own set-up in a later `t.before` sees it), and using it when e2e is skipped is a
 * mistake that throws.
 */
export function e2eDaemon(t: TestLike & { before(fn: () => Promise<void>): void }, opts: DaemonOptions = {}): Daemon {
  let started: Daemon | undefined;
  t.before(async () => {
    if (e2eSkipReason()) return;
    started = await startDaemon(t, opts);
    await importTestImage(started, 'busybox:latest');
  });
  return new Proxy({} as Daemon, {
    get(_, key) {
      if (!started) throw new Error('the e2e daemon is not running (e2e skipped, or used before the file\'s t.before)');
      const v: unknown = Reflect.get(started, key);
      return typeof v === 'function' ? v.bind(started) : v;
    },
  });
}
