// The real Docker CLI, pointed at a test berthd through the environment startDaemon made.
import { spawn } from 'node:child_process';

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the child was killed because it outlived `timeoutMs`. */
  timedOut: boolean;
}

export interface DockerOptions {
  /** Written to the CLI's stdin, which is then closed (stdin is empty otherwise). */
  input?: string | Buffer | NodeJS.ReadableStream;
  /** Bound after which only this child is killed (default 60 s). Not an assertion. */
  timeoutMs?: number;
  /** Extra environment on top of the daemon's. */
  env?: Record<string, string>;
  /** The program to run instead of `docker` (e.g. docker-compose), with the same environment. */
  command?: string;
  /** Working directory of the child (default: the test's). */
  cwd?: string;
}

/** Runs `docker ...args` against `d` and collects its exit code and output. */
export function docker(d: { env: NodeJS.ProcessEnv }, args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(opts.command ?? 'docker', args, { env: { ...d.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    child.stdin.on('error', () => { /* the CLI may exit without reading its stdin */ });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
    const input = opts.input;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** Like docker(), but a non-zero exit fails the test with the CLI's stderr. */
export async function dockerOk(d: { env: NodeJS.ProcessEnv }, args: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  const r = await docker(d, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `was killed after ${opts.timeoutMs ?? 60_000} ms` : `exited ${r.code}`;
    throw new Error(`${opts.command ?? 'docker'} ${args.join(' ')} ${why}\nstderr: ${r.stderr}\nstdout: ${r.stdout}`);
  }
  return r;
}
