// A container create that fails leaves no anonymous volume behind, whatever fails: a bad mount
// after an anonymous volume was made, a bad volume name, a taken name, a missing network.
import t from 'tap';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { withTestDaemon } from '../helpers/test-daemon';

let d: Daemon;
const skip = withTestDaemon(t, async (started) => {
  d = started;
  // an image with a VOLUME, so every create of it makes an anonymous volume
  await dockerOk(d, ['create', '--name', 'volbase', 'busybox', 'true']);
  await dockerOk(d, ['commit', '-c', 'VOLUME /data', 'volbase', 'withvol']);
  await dockerOk(d, ['rm', 'volbase']);
});

const volumes = async () => (await dockerOk(d, ['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean).sort();
const volumeDirs = () => readdirSync(join(d.dataRoot, 'volumes')).filter((n) => !n.startsWith('.trash-')).sort();

t.test('a failed create leaks no anonymous volume', { skip }, async (t) => {
  await dockerOk(d, ['create', '--name', 'taken', 'busybox', 'true']);
  t.teardown(() => docker(d, ['rm', '-f', 'taken']));
  const before = await volumes();
  const dirsBefore = volumeDirs();
  const failures: Array<[string, string[], string | RegExp]> = [
    ['an invalid volume name after -v /anon and the image\'s VOLUME',
      ['create', '-v', '/anon', '-v', 'bad!name:/z', 'withvol', 'true'], 'includes invalid characters for a local volume name'],
    ['an invalid volume name after an anonymous --mount volume',
      ['create', '--mount', 'type=volume,dst=/a', '--mount', 'type=volume,src=bad!name,dst=/b', 'withvol', 'true'], 'includes invalid characters for a local volume name'],
    ['an unknown volume driver after the image\'s VOLUME',
      ['create', '-v', '/anon', '--mount', 'type=volume,dst=/v,volume-driver=nodriver', 'withvol', 'true'], 'plugin "nodriver" not found'],
    ['a missing bind source with --mount',
      ['create', '-v', '/anon', '--mount', 'type=bind,src=/nonexistent-bt,dst=/b', 'withvol', 'true'], 'bind source path does not exist'],
    ['a name in use', ['create', '--name', 'taken', '-v', '/anon', 'withvol', 'true'], 'is already in use by container'],
    ['a network that does not exist', ['create', '--network', 'no-such-net', '-v', '/anon', 'withvol', 'true'], 'network no-such-net not found'],
  ];
  for (const [what, args, message] of failures) {
    // --pull never: the CLI takes any 404 of a create for a missing image and would pull otherwise
    const r = await docker(d, [args[0]!, '--pull', 'never', ...args.slice(1)]);
    t.not(r.code, 0, `${what}: refused`);
    t.match(r.stderr, message, `${what}: Docker's error`);
    t.same(await volumes(), before, `${what}: no volume left`);
    t.same(volumeDirs(), dirsBefore, `${what}: no volume directory left`);
  }
});
