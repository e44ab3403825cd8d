// How long the event loop stalls (input in 64 KB chunks, as a socket delivers it) while berth loads, saves and registers a 50 MB layer
// (perf_hooks.monitorEventLoopDelay around the real image store, in this process). It only
// reports the figures: speed is the bench's business, never a test's assertion.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { EventBus } from '../../daemon/backend/events';
import { Images } from '../../daemon/backend/images';
import { openDatabase } from '../../daemon/store/db';
import { makeTar, saveArchive } from '../helpers/save-archives';
import { streamOf } from './layer-tars';

const ops = { mknod: () => undefined, setxattr: () => undefined };

async function measure<T>(fn: () => Promise<T>): Promise<{ maxMs: number; p99Ms: number; value: T }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const value = await fn();
  h.disable();
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6, value };
}

t.test('event-loop stalls during a 50 MB load, save and import (reported, not asserted)', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'berth-stall-'));
  const db = openDatabase(join(root, 'berth.db'));
  t.teardown(() => { db.close(); rmSync(root, { recursive: true, force: true }); });
  const images = await Images.open({ config: { dataRoot: root }, db, events: new EventBus(), ops, diffOps: { getxattr: () => null } });

  // 50 MB in 200 files of 256 KB, plus a few thousand small ones: both per-entry and per-byte costs
  const entries = [];
  for (let i = 0; i < 200; i++) entries.push({ name: `big/f${i}`, body: randomBytes(256 * 1024) });
  for (let i = 0; i < 3000; i++) entries.push({ name: `small/s${i}`, body: `${i}\n` });
  const layer = await makeTar(entries);
  const archive = await saveArchive([{ layers: [layer], tags: ['stall:1'] }]);

  const load = await measure(() => images.load(streamOf(archive.tar, 64 * 1024), { quiet: true }, () => undefined));
  t.same(load.value.ids, archive.ids);
  t.comment(`load of ${(layer.length / 1e6).toFixed(1)} MB (3,200 entries): longest stall ${load.maxMs.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms`);

  const save = await measure(async () => {
    let n = 0;
    for await (const c of await images.save(['stall:1']) as AsyncIterable<Buffer>) n += c.length;
    return n;
  });
  t.ok(save.value > layer.length);
  t.comment(`save: longest stall ${save.maxMs.toFixed(1)} ms, p99 ${save.p99Ms.toFixed(1)} ms`);

  const imp = await measure(() => images.importImage({ source: streamOf(layer, 64 * 1024), changes: [] }, () => undefined));
  t.match(imp.value, /^sha256:/);
  t.comment(`import: longest stall ${imp.maxMs.toFixed(1)} ms, p99 ${imp.p99Ms.toFixed(1)} ms`);
});
