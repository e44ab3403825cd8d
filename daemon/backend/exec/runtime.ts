// The exec engine's kernel-facing side made real: berth-monitor in exec mode, joined to the
// cgroups the container's init is in. (Tests use the fakes in test/helpers/fake-exec.ts.)
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CgroupLayout } from '../../native/ops';
import { MonitorClient, spawnMonitor, type MonitorPool } from '../containers/monitor-client';
import { readExitFile } from '../containers/runtime';
import type { MonitorLink } from '../containers/types';
import type { ExecLauncher, ExecSpec } from './types';

/**
 * The cgroup.procs files of the container's own cgroups (those named after its ID, the ones
 * berth created at start), found from /proc/<pid>/cgroup of its init, so an exec joins
 * exactly the cgroups the container's processes are in, also after a daemon restart.
 */
export function containerCgroupProcs(procCgroup: string, layout: CgroupLayout, containerId: string): string[] {
  const out = new Set<string>();
  for (const line of procCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!m || !m[2]!.endsWith('/' + containerId)) continue;
    let mount: string | null | undefined;
    if (m[1] === '') mount = layout.v2;
    else for (const c of m[1]!.split(',')) mount ??= layout.v1[c as keyof CgroupLayout['v1']];
    if (mount) out.add(join(mount, m[2]!, 'cgroup.procs'));
  }
  return [...out];
}

/** Where an exec's monitor records its exit (the exec's own dir: no earlier record there). */
const exitFileOf = (spec: ExecSpec) => join(spec.dir, 'exit.json');

export class ExecMonitors implements ExecLauncher {
  constructor(private readonly layout: () => CgroupLayout, private readonly pool?: MonitorPool) {}

  async launch(spec: ExecSpec): Promise<MonitorLink> {
    await mkdir(spec.dir, { recursive: true, mode: 0o700 });
    let procCgroup = '';
    try {
      procCgroup = readFileSync(`/proc/${spec.targetPid}/cgroup`, 'utf8');
    } catch {
      // gone: the monitor reports it, as it would a process that dies a moment later
    }
    const socket = join(spec.dir, 'monitor.sock');
    const { connection } = await spawnMonitor({
      mode: 'exec',
      id: spec.id,
      socket,
      exitFile: exitFileOf(spec),
      configFile: join(spec.dir, 'monitor.conf'),
      monitorLog: join(spec.dir, 'monitor.log'),
      targetPid: spec.targetPid,
      args: spec.args,
      env: spec.env,
      cwd: spec.cwd,
      user: spec.user,
      tty: spec.tty,
      openStdin: spec.openStdin,
      stdinOnce: spec.openStdin,
      // the container's capability set, no_new_privs, seccomp filter and rlimits; an exec's
      // --privileged (or a privileged container) gives every capability, the filter stays
      caps: spec.security?.caps,
      noNewPrivs: spec.security?.noNewPrivs,
      seccomp: spec.security?.seccomp,
      rlimits: spec.security?.rlimits,
      privileged: spec.privileged || !!spec.security?.privileged,
      cgroupProcs: containerCgroupProcs(procCgroup, this.layout(), spec.containerId),
      consoleRows: spec.consoleRows,
      consoleCols: spec.consoleCols,
    }, this.pool);
    const client = connection ? await MonitorClient.adopt(connection, socket) : await MonitorClient.connect(socket);
    client.attach({ stdout: spec.attachStdout, stderr: spec.attachStderr });
    return client;
  }

  recordedExit(spec: ExecSpec): number | undefined {
    return readExitFile(exitFileOf(spec))?.exitCode;
  }

  async cleanup(spec: ExecSpec): Promise<void> {
    await rm(spec.dir, { recursive: true, force: true });
  }
}
