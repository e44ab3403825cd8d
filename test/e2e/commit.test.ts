// docker commit through the real CLI: a running container (paused meanwhile) that deleted a
// file of its image, replaced a directory's contents (an opaque dir), added files, a hard link,
// a symlink and a fifo; a container of the committed image sees exactly the same filesystem.
// Config with --change, -m, -a; Parent, Container and ContainerConfig by API version; history;
// events; an unchanged container commits an empty layer; save → load of a committed image.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk } from '../helpers/docker';
import { rootfsTar } from '../helpers/test-image';
import { addsLayerEntries, makeTar, saveArchive } from '../helpers/save-archives';

const skip = e2eSkipReason();

let work = '';
t.before(() => { work = mkdtempSync('/tmp/bt-commit-'); });
t.teardown(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** An image with /etc/deleted and /opt/data/{a,b} over the test rootfs, tagged bt-base. */
async function loadBase(d: Daemon): Promise<string> {
  const rootfs = readFileSync(await rootfsTar());
  const adds = await makeTar([...addsLayerEntries]);
  const saved = await saveArchive([{ layers: [rootfs, adds], tags: ['bt-base:latest'], config: { Labels: { base: '1' } } }]);
  const file = join(work, `base-${Date.now()}.tar`);
  writeFileSync(file, saved.tar);
  await dockerOk(d, ['load', '-q', '-i', file]);
  return saved.ids[0]!;
}

/** Every path of the root filesystem with type, mode, owner, size and contents hash. */
const LISTING = [
  'cd / && find . -xdev ! -path "./proc/*" ! -path "./sys/*" ! -path "./dev/*" ! -path ./etc/hostname ! -path ./etc/hosts ! -path ./etc/resolv.conf',
  '| sort | while read -r p; do',
  '  if [ -f "$p" ] && [ ! -L "$p" ]; then s=$(md5sum < "$p"); else s=-; fi;',
  '  echo "$p $(stat -c "%F %a %u:%g %s" "$p") $s $(readlink "$p")";',
  'done',
].join(' ');

t.test('commit a running container: deletions, an opaque dir, new files; config, history, events', { skip }, async (t) => {
  const d = await startDaemon(t);
  const baseId = await loadBase(d);
  const script = [
    'rm /etc/deleted',
    'rm -rf /opt/data && mkdir /opt/data && echo c > /opt/data/c',
    'echo new > /new && ln /new /new-hard && ln -s /new /new-sym && mkfifo /fifo && mkdir -p /deep/er && chmod 4755 /new',
    'touch /ready',
    'sleep 1000',
  ].join('; ');
  await dockerOk(d, ['run', '-d', '--name', 'src', '-e', 'FROM_RUN=1', 'bt-base', 'sh', '-c', script]);
  for (let i = 0; i < 100; i++) {
    if ((await docker(d, ['exec', 'src', 'test', '-e', '/ready'])).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const since = Math.floor(Date.now() / 1000);
  const r = await dockerOk(d, ['commit', '-c', 'ENV Z=1', '-c', 'LABEL mine=yes', '-m', 'msg', '-a', 'me <me@x>', 'src', 'bt-img:commit']);
  const id = r.stdout.trim();
  t.match(id, /^sha256:[0-9a-f]{64}$/, 'prints the new image ID');
  t.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Status}}', 'src'])).stdout, 'running\n', 'running again after the commit');

  const img = JSON.parse((await dockerOk(d, ['image', 'inspect', 'bt-img:commit'])).stdout)[0];
  t.equal(img.Id, id);
  t.same(img.RepoTags, ['bt-img:commit']);
  t.equal(img.Parent, baseId, 'Parent is the container\'s image');
  t.equal(img.Comment, 'msg');
  t.equal(img.Author, 'me <me@x>');
  t.equal(img.RootFS.Layers.length, 3, 'one layer more than the base');
  t.ok(img.Config.Env.includes('Z=1') && img.Config.Env.includes('FROM_RUN=1'), `Env ${JSON.stringify(img.Config.Env)}`);
  t.same(img.Config.Labels, { base: '1', mine: 'yes' });
  t.same(img.Config.Cmd, ['sh', '-c', script], 'the container\'s command');
  t.notOk('Container' in img, 'no Container at API 1.45');
  const old = JSON.parse((await d.request('GET', '/v1.44/images/bt-img:commit/json')).body);
  t.equal(old.Container.length, 64, 'Container below 1.45');
  t.same(old.ContainerConfig.Cmd, ['sh', '-c', script], 'ContainerConfig below 1.45');

  const hist = JSON.parse((await d.request('GET', '/v1.45/images/bt-img:commit/history')).body);
  t.equal(hist.length, 3);
  t.equal(hist[0].Id, id);
  t.same(hist[0].Tags, ['bt-img:commit']);
  t.equal(hist[0].CreatedBy, `sh -c ${script}`);
  t.equal(hist[0].Comment, 'msg');
  t.ok(hist[0].Size > 0, 'the new layer has a size');
  t.equal(hist[1].Id, baseId, 'then the parent');

  const ev = await d.request('GET', `/v1.45/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}`);
  const actions = ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l)).map((e) => `${e.Type} ${e.Action}`);
  t.same(actions.filter((a) => /pause|commit|tag/.test(a)), ['container pause', 'image tag', 'container commit', 'container unpause'],
    'paused while the layer is taken; tag, then commit');
  const commitEv = ev.body.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.Action === 'commit');
  t.equal(commitEv.Actor.Attributes.imageID, id);
  t.equal(commitEv.Actor.Attributes.imageRef, 'bt-img:commit');
  t.equal(commitEv.Actor.Attributes.comment, 'msg');

  const before = await dockerOk(d, ['exec', 'src', 'sh', '-c', LISTING]);
  const after = await dockerOk(d, ['run', '--rm', 'bt-img:commit', 'sh', '-c', LISTING]);
  t.ok(before.stdout.split('\n').length > 50, 'the listing covers the filesystem');
  t.equal(after.stdout, before.stdout, 'a container of the committed image sees exactly the committing container\'s filesystem');
  const check = await dockerOk(d, ['run', '--rm', 'bt-img:commit', 'sh', '-c', 'test ! -e /etc/deleted && ls /opt/data && cat /new-hard && test -p /fifo && echo ok']);
  t.equal(check.stdout, 'c\nnew\nok\n', 'deleted file, opaque dir, hard link, fifo');

  // save → rmi → load of the committed image gives it back
  const out = join(work, 'commit.tar');
  await dockerOk(d, ['save', '-o', out, 'bt-img:commit']);
  await dockerOk(d, ['rm', '-f', 'src']);
  await dockerOk(d, ['rmi', 'bt-img:commit']);
  await dockerOk(d, ['load', '-q', '-i', out]);
  t.equal((await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', 'bt-img:commit'])).stdout, `${id}\n`, 'save → rmi → load: the same ID');
  const again = await dockerOk(d, ['run', '--rm', 'bt-img:commit', 'sh', '-c', LISTING]);
  t.equal(again.stdout, before.stdout, 'and the same filesystem');
});

t.test('commit without pause, of an unchanged container (empty layer), untagged, and errors', { skip }, async (t) => {
  const d = await startDaemon(t);
  const baseId = await loadBase(d);
  await dockerOk(d, ['create', '--name', 'idle', 'bt-base', 'true']);
  const r = await dockerOk(d, ['commit', 'idle']);
  const id = r.stdout.trim();
  const img = JSON.parse((await dockerOk(d, ['image', 'inspect', id])).stdout)[0];
  t.same(img.RepoTags, [], 'untagged');
  t.equal(img.RootFS.Layers.length, 2, 'no layer added for no changes');
  const hist = JSON.parse((await d.request('GET', `/v1.45/images/${id}/history`)).body);
  t.equal(hist[0].Size, 0, 'an empty layer in the history');
  t.equal(hist[0].CreatedBy, 'true');

  await dockerOk(d, ['run', '-d', '--name', 'busy', 'bt-base', 'sh', '-c', 'echo x > /x; sleep 1000']);
  const since = Math.floor(Date.now() / 1000);
  const p = await d.request('POST', '/v1.45/commit?container=busy&pause=0&repo=docker.io%2Flibrary%2Fbt-nopause');
  t.equal(p.status, 201);
  t.match(JSON.parse(p.body), { Id: /^sha256:/ });
  const ev = await d.request('GET', `/v1.45/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent('{"event":["pause"]}')}`);
  t.equal(ev.body, '', 'pause=0: no pause');
  t.equal((await dockerOk(d, ['images', '-q', 'bt-nopause:latest'])).stdout.length, 13, 'tagged latest');

  const missing = await d.request('POST', '/v1.45/commit?container=nope');
  t.equal(missing.status, 404);
  t.same(JSON.parse(missing.body), { message: 'No such container: nope' });
  const bad = await d.request('POST', '/v1.45/commit?container=busy&changes=RUN+x');
  t.equal(bad.status, 400);
  t.same(JSON.parse(bad.body), { message: 'RUN is not a valid change command' });
  t.equal(baseId.length, 71);
  await dockerOk(d, ['rm', '-f', 'busy', 'idle']);
});
