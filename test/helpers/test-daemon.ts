// The preamble most e2e files share: one berthd for the whole file, started before its tests
// with the offline test image imported, and the reason to skip them where e2e cannot run.
import { e2eSkipReason, startDaemon, type Daemon, type DaemonOptions, type TestLike } from './daemon';
import { importTestImage } from './test-image';

export interface TestDaemonOptions {
  /** startDaemon's options (flags, daemon.json). */
  daemon?: DaemonOptions;
  /** The test image's name (busybox:latest), or null for none. */
  image?: string | null;
}

/**
 * Starts a berthd in t.before (torn down with t) and hands it to `ready`, which may prepare
 * more (images, containers the tests share). Returns e2eSkipReason(): the tests' `skip`.
 *
 *   let d: Daemon;
 *   const skip = withTestDaemon(t, (started) => { d = started; });
 */
export function withTestDaemon(t: TestLike & { before(fn: () => Promise<void>): void }, ready: (d: Daemon) => unknown,
  opts: TestDaemonOptions = {}): string | false {
  const skip = e2eSkipReason();
  t.before(async () => {
    if (skip) return;
    const d = await startDaemon(t, opts.daemon);
    if (opts.image !== null) await importTestImage(d, opts.image ?? 'busybox:latest');
    await ready(d);
  });
  return skip;
}
