// The exec engine (docker exec): create, start (attached or detached), resize, inspect. Exec
// sessions live in memory, as dockerd's do; each started one is a berth-monitor in exec mode
// inside the container. A container's end ends its execs (the kernel kills its pid namespace).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { Conflict, InvalidParameter, NotFound, errorMessage } from '../../errors';
import { DEFAULT_PATH, type Json } from '../containers/config';
import type { AttachHandle, MonitorLink } from '../containers/types';
import type { EventBus } from '../events';
import type { ExecContainers, ExecLauncher, ExecSpec, ExecTarget } from './types';

export type { ExecContainers, ExecLauncher, ExecSpec, ExecTarget } from './types';

/** How long an ended exec stays inspectable (dockerd's exec GC runs every 5 minutes). */
const KEEP_ENDED_MS = 5 * 60 * 1000;

export interface ExecsDeps {
  containers: ExecContainers;
  launcher: ExecLauncher;
  events: EventBus;
  execRoot: string;
  log?: (msg: string) => void;
}

/** The body of POST /containers/{id}/exec, as the Docker CLI sends it. */
export interface ExecCreateBody {
  User?: string;
  Privileged?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Env?: string[] | null;
  WorkingDir?: string;
  Cmd?: string[] | null;
}

export interface ExecStartOptions {
  detach: boolean;
  /** [rows, cols] (API 1.42+); overrides the size given at create */
  consoleSize?: [number, number] | null;
}

/** GET /exec/{id}/json */
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: { tty: boolean; entrypoint: string; arguments: string[]; privileged: boolean; user?: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  CanRemove: boolean;
  ContainerID: string;
  DetachKeys: string;
  Pid: number;
}

interface Exec {
  id: string;
  containerId: string;
  cmd: string[];
  user: string;
  workingDir: string;
  env: string[];
  tty: boolean;
  privileged: boolean;
  openStdin: boolean;
  openStdout: boolean;
  openStderr: boolean;
  detachKeys: string;
  size: [number, number];
  state: 'created' | 'starting' | 'running' | 'exited';
  exitCode: number | null;
  pid: number;
  link?: MonitorLink;
}

/**
 * Docker's environment for an exec: PATH and HOSTNAME defaults and TERM for a tty, overridden
 * by the container's Env, then by the exec's (moby's CreateDaemonEnvironment and
 * ReplaceOrAppendEnvValues; a bare `NAME` in the exec's Env removes it).
 */
export function execEnv(containerConfig: Json, tty: boolean, execEnvList: string[]): string[] {
  const base = [DEFAULT_PATH, `HOSTNAME=${containerConfig.Hostname ?? ''}`];
  if (tty) base.push('TERM=xterm');
  return replaceOrAppend(replaceOrAppend(base, containerConfig.Env ?? []), execEnvList);
}

function replaceOrAppend(defaults: string[], overrides: string[]): string[] {
  const out = [...defaults];
  const keyOf = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  for (const o of overrides) {
    const k = keyOf(o);
    const i = out.findIndex((e) => keyOf(e) === k);
    if (!o.includes('=')) {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = o;
    else out.push(o);
  }
  return out;
}

/**
 * The exit code dockerd gives an exec that could not be started (translateContainerdStartErr):
 * 127 for a command that is not there, 126 when it cannot be invoked or anything else failed.
 */
export function startFailureCode(message: string, entrypoint: string): number {
  const m = message.toLowerCase();
  if (m.includes(entrypoint.toLowerCase()) && (m.includes('executable file not found') || m.includes('no such file or directory'))) return 127;
  if (m.includes('permission denied')) return 126;
  if (m.includes('not a directory')) return 127;
  return 126;
}

export class Execs {
  private readonly execs = new Map<string, Exec>();

  constructor(private readonly d: ExecsDeps) {}

  private get(id: string): Exec {
    const e = this.execs.get(id);
    if (!e) throw new NotFound(`No such exec instance: ${id}`);
    return e;
  }

  /** The container's current execs (created or running), for its inspect's ExecIDs. */
  idsOf(containerId: string): string[] {
    const ids: string[] = [];
    for (const e of this.execs.values()) if (e.containerId === containerId && e.state !== 'exited') ids.push(e.id);
    return ids;
  }

  private runningTarget(ref: string): ExecTarget {
    const t = this.d.containers.execTarget(ref);
    if (t.paused) throw new Conflict(`Container ${t.id} is paused, unpause the container before exec`);
    if (t.restarting) throw new Conflict(`Container ${t.id} is restarting, wait until the container is running`);
    if (!t.running || t.pid <= 0) throw new Conflict(`Container ${t.id} is not running`);
    return t;
  }

  create(ref: string, body: ExecCreateBody): { Id: string } {
    const t = this.runningTarget(ref);
    const cmd = Array.isArray(body?.Cmd) ? body.Cmd.map(String) : [];
    if (cmd.length === 0) throw new InvalidParameter('No exec command specified');
    const env = body.Env ?? [];
    for (const e of env) if (typeof e !== 'string' || e === '' || e.startsWith('=')) throw new InvalidParameter(`invalid environment variable: ${e}`);
    const [rows, cols] = Array.isArray(body.ConsoleSize) ? body.ConsoleSize : [0, 0];
    const e: Exec = {
      id: randomBytes(32).toString('hex'),
      containerId: t.id,
      cmd,
      user: body.User ?? '',
      workingDir: body.WorkingDir ?? '',
      env,
      tty: !!body.Tty,
      privileged: !!body.Privileged,
      openStdin: !!body.AttachStdin,
      openStdout: !!body.AttachStdout,
      openStderr: !!body.AttachStderr,
      detachKeys: body.DetachKeys ?? '',
      size: [Number(rows) || 0, Number(cols) || 0],
      state: 'created',
      exitCode: null,
      pid: 0,
    };
    this.execs.set(e.id, e);
    // a container's end takes its execs that never started with it (moby's Cleanup)
    void t.exited?.then(() => {
      if (e.state === 'created') this.execs.delete(e.id);
    });
    this.emit(t, e, `exec_create: ${this.describe(e)}`);
    return { Id: e.id };
  }

  /**
   * Starts the exec. Detached: resolves once the process runs (or throws why it could not).
   * Attached: validates, then returns the stream at once while the process is being started;
   * the stream ends after the exit code is recorded, so an inspect right after sees it.
   */
  async start(id: string, opts: ExecStartOptions): Promise<AttachHandle | null> {
    const e = this.get(id);
    if (e.state === 'exited') throw new Conflict(`Error: Exec command ${e.id} has already run`);
    if (e.state !== 'created') throw new Conflict(`Error: Exec command ${e.id} is already running`);
    const t = this.runningTarget(e.containerId);
    e.state = 'starting';
    if (opts.consoleSize && opts.consoleSize[0] && opts.consoleSize[1]) e.size = [opts.consoleSize[0], opts.consoleSize[1]];
    this.emit(t, e, `exec_start: ${this.describe(e)}`);

    const output = new PassThrough({ objectMode: true });
    let detached = opts.detach;
    const pending: Buffer[] = [];
    let stdinEnded = false;
    const send = (stream: 1 | 2, data: Buffer) => {
      if (!detached) output.write({ stream, data });
    };
    let running!: () => void;
    const runs = new Promise<undefined>((resolve) => { running = () => resolve(undefined); });
    const ended = this.launch(e, t, send, () => {
      if (e.link && !e.tty && stdinEnded) e.link.closeStdin();
      running();
    }, pending).finally(() => output.end());

    if (opts.detach) {
      const r = await Promise.race([ended, runs]);
      if (r) throw new InvalidParameter(r.message);
      return null;
    }
    const input = e.openStdin
      ? new Writable({
          write(chunk: Buffer, _enc, cb) {
            if (e.link && e.state === 'running') e.link.stdin(chunk);
            else if (e.state !== 'exited') pending.push(chunk);
            cb();
          },
          final(cb) {
            stdinEnded = true;
            // Docker closes an exec's stdin at the client's EOF, except with a tty
            if (e.link && e.state === 'running' && !e.tty) e.link.closeStdin();
            cb();
          },
        })
      : null;
    return {
      tty: e.tty,
      output,
      input,
      detach: () => {
        detached = true;
        output.end();
      },
    };
  }

  /**
   * Spawns the monitor, runs the process and records its end. Resolves with the start failure
   * (message), or nothing, once the exit code is recorded. Never rejects.
   */
  private async launch(e: Exec, t: ExecTarget, send: (stream: 1 | 2, data: Buffer) => void, onRunning: () => void, pending: Buffer[]): Promise<{ message: string } | undefined> {
    const spec: ExecSpec = {
      id: e.id,
      containerId: t.id,
      dir: join(this.d.execRoot, 'execs', e.id),
      targetPid: t.pid,
      args: e.cmd,
      env: execEnv(t.config, e.tty, e.env),
      cwd: e.workingDir || t.config.WorkingDir || '/',
      user: e.user || t.config.User || '',
      tty: e.tty,
      openStdin: e.openStdin,
      privileged: e.privileged,
      consoleRows: e.size[0],
      consoleCols: e.size[1],
      attachStdout: e.openStdout,
      attachStderr: e.openStderr,
      security: t.security,
    };
    const fail = (message: string, code: number) => {
      const text = `OCI runtime exec failed: exec failed: unable to start container process: ${message}: unknown`;
      e.exitCode = code;
      e.state = 'exited';
      this.forgetLater(e);
      send(1, Buffer.from(text + '\r\n'));
      return { message: text };
    };
    let link: MonitorLink;
    try {
      link = await this.d.launcher.launch(spec);
    } catch (err) {
      await this.d.launcher.cleanup(spec).catch(() => {});
      return fail(errorMessage(err), 126);
    }
    e.link = link;
    const outcome = await new Promise<{ message: string } | undefined>((resolve) => {
      let startError: string | undefined;
      link.on('stdout', (data) => send(1, data));
      link.on('stderr', (data) => send(2, data));
      link.on('started', (s) => {
        e.pid = s.pid;
        e.state = 'running';
        for (const b of pending.splice(0)) link.stdin(b);
        onRunning();
      });
      link.on('error', (info) => { startError = info.message; });
      let done = false;
      link.on('exit', (info) => {
        if (done) return;
        done = true;
        if (startError !== undefined) {
          resolve(fail(startError, startFailureCode(startError, e.cmd[0]!)));
          return;
        }
        e.exitCode = info.exitCode;
        e.state = 'exited';
        this.forgetLater(e);
        this.emit(t, e, 'exec_die', { exitCode: String(info.exitCode) });
        resolve(undefined);
      });
      link.on('close', () => {
        if (done) return;
        done = true;
        // Without an EXIT frame read. The monitor writes its exit record before the frame and
        // leaves once it is sent; a write of ours that meets the closed socket (the client's
        // stdin EOF, say) ends the connection before the frame in it is read: the record has
        // the code. No record: the monitor crashed.
        const code = this.d.launcher.recordedExit(spec);
        e.exitCode = code ?? 255;
        e.state = 'exited';
        this.forgetLater(e);
        if (code !== undefined) this.emit(t, e, 'exec_die', { exitCode: String(code) });
        resolve(undefined);
      });
      if (e.size[0] && e.size[1]) link.resize(e.size[0], e.size[1]);
      link.go();
    });
    link.close();
    e.link = undefined;
    await this.d.launcher.cleanup(spec).catch((err) => this.d.log?.(`exec ${e.id} cleanup: ${errorMessage(err)}`));
    return outcome;
  }

  /** POST /exec/{id}/resize: applied now, or when the process starts. */
  resize(id: string, rows: number, cols: number): void {
    const e = this.get(id);
    e.size = [rows, cols];
    if (e.link && e.state === 'running') e.link.resize(rows, cols);
  }

  inspect(id: string): ExecInspect {
    const e = this.get(id);
    const pc: ExecInspect['ProcessConfig'] = { tty: e.tty, entrypoint: e.cmd[0]!, arguments: e.cmd.slice(1), privileged: e.privileged };
    if (e.user) pc.user = e.user;
    return {
      ID: e.id,
      Running: e.state === 'running' || e.state === 'starting',
      ExitCode: e.exitCode,
      ProcessConfig: pc,
      OpenStdin: e.openStdin,
      OpenStderr: e.openStderr,
      OpenStdout: e.openStdout,
      CanRemove: e.state === 'exited',
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys,
      Pid: e.pid,
    };
  }

  private forgetLater(e: Exec): void {
    setTimeout(() => this.execs.delete(e.id), KEEP_ENDED_MS).unref();
  }

  private describe(e: Exec): string {
    return `${e.cmd[0]} ${e.cmd.slice(1).join(' ')}`;
  }

  private emit(t: ExecTarget, e: Exec, action: string, extra: Record<string, string> = {}): void {
    this.d.events.emit('container', action, t.id, { ...(t.config.Labels ?? {}), image: t.image, name: t.name, execID: e.id, ...extra });
  }
}
