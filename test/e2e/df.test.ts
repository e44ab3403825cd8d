// docker system df, ps -s and inspect --size: what images and containers use on disk.
import t from 'tap';
import { e2eSkipReason, startDaemon } from '../helpers/daemon';
import { dockerOk } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();

t.test('system df, ps -s, inspect --size', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d, 'busybox:latest');
  await dockerOk(d, ['tag', 'busybox', 'other:1']);
  await dockerOk(d, ['run', '--name', 'fat', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /blob']);
  const ps = await dockerOk(d, ['ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}']);
  t.match(ps.stdout, /^fat 100kB \(virtual [\d.]+MB\)\n$/);
  const size = JSON.parse((await dockerOk(d, ['inspect', '--size', 'fat'])).stdout)[0];
  t.equal(size.SizeRw, 100000);
  t.ok(size.SizeRootFs > size.SizeRw);

  const df = JSON.parse((await dockerOk(d, ['system', 'df', '--format', '{{json .}}'])).stdout.split('\n')[0]!);
  t.equal(df.Type, 'Images');
  t.equal(df.TotalCount, '1');
  t.equal(df.Active, '1');
  const raw = JSON.parse((await d.request('GET', '/v1.45/system/df')).body);
  t.ok(raw.LayersSize > 0);
  t.equal(raw.Images.length, 1);
  t.equal(raw.Images[0].Containers, 1, 'images counts its containers');
  t.equal(raw.Containers[0].SizeRw, 100000);
  t.same(raw.Volumes, []);
  const v = await dockerOk(d, ['system', 'df', '-v']);
  t.match(v.stdout, /fat/);
});
