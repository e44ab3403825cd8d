// What the exec engine needs from the rest of the engine, as narrow interfaces so that its
// logic is tested with fakes (no root, no kernel).
import type { Json } from '../containers/config';
import type { MonitorLink } from '../containers/types';

/** A container as `docker exec` sees it (Containers.execTarget). */
export interface ExecTarget {
  id: string;
  name: string;
  /** the image reference the container was created from (events' `image` attribute) */
  image: string;
  config: Json;
  /** running (or paused) with a live monitor */
  running: boolean;
  paused: boolean;
  restarting: boolean;
  /** the init's pid in the host pid namespace while running, else 0 */
  pid: number;
  /** resolves when this run of the container ends; undefined when not running */
  exited: Promise<unknown> | undefined;
  /** The container's capabilities, no_new_privs, seccomp filter and rlimits: an exec gets them too (as with Docker). */
  security?: ExecSecurity;
}

export interface ExecSecurity {
  privileged: boolean;
  caps?: string[];
  noNewPrivs?: boolean;
  /** the container's seccomp profile file (line format), while it runs */
  seccomp?: string;
  rlimits?: Array<{ Name: string; Soft: number; Hard: number }>;
}

export interface ExecContainers {
  /** Throws NotFound (`No such container: X`). */
  execTarget(ref: string): ExecTarget;
}

/** One exec process, as the monitor in exec mode is told (native/MONITOR-PROTOCOL.md). */
export interface ExecSpec {
  id: string;
  containerId: string;
  /** <exec-root>/execs/<id>: socket, config, exit file and monitor log */
  dir: string;
  targetPid: number;
  args: string[];
  env: string[];
  cwd: string;
  user: string;
  tty: boolean;
  openStdin: boolean;
  privileged: boolean;
  consoleRows: number;
  consoleCols: number;
  attachStdout: boolean;
  attachStderr: boolean;
  security?: ExecSecurity;
}

export interface ExecLauncher {
  /**
   * Spawns berth-monitor in exec mode (the process is created inside the container, joined
   * to its cgroups, held until GO) and connects to it, attached as the spec says.
   */
  launch(spec: ExecSpec): Promise<MonitorLink>;
  /** Removes what launch left on disk once the exec is over. */
  cleanup(spec: ExecSpec): Promise<void>;
  /**
   * The exit code the monitor recorded on disk (it writes the record before its EXIT frame), or
   * undefined: for a connection that ended without the frame read.
   */
  recordedExit(spec: ExecSpec): number | undefined;
}
