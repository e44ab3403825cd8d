// docker diff: moby's overlay change rules over a temporary upper dir and lower layers.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { realNativeOps } from '../../daemon/native/ops';
import { overlayChanges } from '../../daemon/backend/containers/changes';

const ops = realNativeOps();
const root = process.getuid?.() === 0;

t.test('A, C and D with parents, unchanged directories left out', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'berth-changes-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const [upper, init, image] = ['upper', 'init', 'image'].map((d) => join(base, d)) as [string, string, string];
  for (const d of ['etc', 'tmp', 'var/lib']) mkdirSync(join(image, d), { recursive: true });
  writeFileSync(join(image, 'etc', 'passwd'), 'root\n');
  writeFileSync(join(image, 'etc', 'group'), 'root\n');
  mkdirSync(join(init, 'etc'), { recursive: true });
  writeFileSync(join(init, '.dockerenv'), '');
  // upper: /etc/passwd modified, /tmp/new added, /var/lib the same as below (only a parent)
  mkdirSync(join(upper, 'etc'), { recursive: true });
  writeFileSync(join(upper, 'etc', 'passwd'), 'root\nme\n');
  mkdirSync(join(upper, 'tmp'));
  writeFileSync(join(upper, 'tmp', 'new'), 'x');
  mkdirSync(join(upper, 'var', 'lib'), { recursive: true });
  writeFileSync(join(upper, 'var', 'lib', 'added'), 'x');
  for (const d of ['var', 'var/lib']) {
    utimesSync(join(upper, d), 1000, 1000);
    utimesSync(join(image, d), 1000, 1000);
  }
  if (root) ops.mknod(join(upper, 'etc', 'group'), 0o020000, 0, 0);
  const got = overlayChanges(ops, upper, [init, image]).map((c) => `${'CAD'[c.Kind]} ${c.Path}`);
  const want = ['C /etc', ...(root ? ['D /etc/group'] : []), 'C /etc/passwd', 'C /tmp', 'A /tmp/new', 'C /var/lib', 'A /var/lib/added'];
  t.same(got, want);
});
