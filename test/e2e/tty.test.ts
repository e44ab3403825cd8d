// `docker run -it` on a real terminal (node-pty): a pty inside the container's devpts, its size
// from the client at start and on every resize, raw bytes both ways, the exit code at the end.
import t from 'tap';
import * as pty from 'node-pty';
import { e2eSkipReason, startDaemon } from '../helpers/daemon';
import { importTestImage } from '../helpers/test-image';

const skip = e2eSkipReason();

/** Collects a pty's output and waits (boundedly) for a pattern to appear in it. */
class Screen {
  text = '';
  private waiters: Array<() => void> = [];
  constructor(readonly term: pty.IPty) {
    term.onData((d) => {
      this.text += d;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async waitFor(re: RegExp, tries = 200): Promise<RegExpMatchArray> {
    for (let i = 0; i < tries; i++) {
      const m = this.text.match(re);
      if (m) return m;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
    throw new Error(`never saw ${re} on the terminal; it shows:\n${JSON.stringify(this.text)}`);
  }
}

t.test('docker run -it busybox sh: tty, size, resize, exit code', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  const term = pty.spawn('docker', ['run', '-it', '--rm', '--name', 'tty1', 'busybox', 'sh'], {
    name: 'xterm', cols: 100, rows: 30, env: d.env as Record<string, string>,
  });
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  t.teardown(() => { try { term.kill(); } catch { /* gone */ } });
  const screen = new Screen(term);
  await screen.waitFor(/# (\x1b\[6n)?$/);
  term.write('tty; stty size\r');
  await screen.waitFor(/\/dev\/pts\/0\r\n30 100\r\n/);
  t.pass('a pty of the container\'s own devpts, with the client\'s size');
  term.resize(120, 40);
  for (let i = 0; i < 50; i++) {
    term.write('stty size\r');
    const before = screen.text.length;
    await screen.waitFor(/\d+ \d+\r\n[^\n]*# (\x1b\[6n)?$/);
    if (screen.text.slice(before).includes('40 120')) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.match(screen.text, /40 120\r\n/, 'resize reaches the container');
  term.write('exit 5\r');
  t.equal(await exited, 5, 'the shell\'s exit code is the CLI\'s');
});
