// Crash safety of volume removal: berthd killed with SIGKILL while `docker volume rm` deletes a
// volume of many files leaves no half state. After the restart the volume is either fully there
// (listed, data intact) or fully gone (not listed, no directory, no trash left): the row goes
// first, then the directory moves to volumes/.trash-*, deleted after; at start-up, a directory
// no row names moves there too, and the trash is deleted in the background.
import t from 'tap';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; }, { image: null });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const listed = async () => (await dockerOk(d, ['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
const volumeTrash = () => readdirSync(join(d.dataRoot, 'volumes')).filter((n) => n.startsWith('.trash-'));

/** The trash is deleted in the background after a start: waits for it to empty (bounded). */
async function trashEmptied(): Promise<string[]> {
  for (let i = 0; i < 600 && volumeTrash().length; i++) await sleep(100);
  return volumeTrash();
}

/** A volume of `n` files in a few directories, written straight into its mount point. */
async function bigVolume(name: string, n: number): Promise<string> {
  await dockerOk(d, ['volume', 'create', name]);
  const data = join(d.dataRoot, 'volumes', name, '_data');
  for (let i = 0; i < n; i++) {
    const dir = join(data, `d${i % 50}`);
    if (i < 50) mkdirSync(dir);
    writeFileSync(join(dir, `f${i}`), `${i}\n`);
  }
  return data;
}

t.test('kill -9 during volume rm: after the restart the volume is gone, with its files and trash', { skip }, async (t) => {
  const data = await bigVolume('v-crash', 30000);
  const dir = join(d.dataRoot, 'volumes', 'v-crash');
  const rm = docker(d, ['volume', 'rm', 'v-crash']);
  // the moment the directory has left volumes/ (the row went first), berthd dies
  while (existsSync(dir)) await sleep(2);
  await d.stop('SIGKILL');
  await rm;
  const trashAtCrash = volumeTrash();
  t.comment(`trash left at the crash: ${trashAtCrash.length ? 'yes (killed mid-delete)' : 'none (the delete had finished)'}`);
  await d.restart();
  t.notOk((await listed()).includes('v-crash'), 'not listed');
  t.notOk(existsSync(dir), 'no directory under volumes/');
  t.notOk(existsSync(data));
  t.same(await trashEmptied(), [], 'the trash is deleted after the start');
  const inspect = await docker(d, ['volume', 'inspect', 'v-crash']);
  t.match(inspect.stderr, 'no such volume');
  // and the name is free again
  await dockerOk(d, ['volume', 'create', 'v-crash']);
  t.same(readdirSync(join(d.dataRoot, 'volumes', 'v-crash', '_data')), [], 'a new volume of that name starts empty');
  await dockerOk(d, ['volume', 'rm', 'v-crash']);
});

t.test('a crash between the row delete and the directory move: the directory is swept at start-up', { skip }, async (t) => {
  // the state such a crash leaves: a volume directory no row names
  await d.stop('SIGKILL');
  const orphan = join(d.dataRoot, 'volumes', 'v-orphan', '_data', 'sub');
  mkdirSync(orphan, { recursive: true });
  writeFileSync(join(orphan, 'f'), 'left\n');
  // and one the crash left untouched: still listed, data intact
  await d.restart();
  const kept = await bigVolume('v-kept', 100);
  await d.stop('SIGKILL');
  await d.restart();
  t.notOk((await listed()).includes('v-orphan'), 'the orphan is not listed');
  t.notOk(existsSync(join(d.dataRoot, 'volumes', 'v-orphan')), 'its directory is gone');
  t.same(await trashEmptied(), [], 'and deleted');
  t.ok((await listed()).includes('v-kept'));
  t.equal(readFileSync(join(kept, 'd42', 'f42'), 'utf8'), '42\n', 'a volume with a row keeps its data');
  await dockerOk(d, ['volume', 'rm', 'v-kept']);
});
