// What a monitor connection reported for one process, collected until its EXIT (the native
// monitor tests, container and exec mode).
import type { MonitorClient, MonitorExit, MonitorStartError, MonitorStarted } from '../../daemon/backend/containers/monitor-client';

export interface Outcome {
  stdout: string;
  stderr: string;
  exit: MonitorExit;
  started?: MonitorStarted;
  error?: MonitorStartError;
}

/** Listens to client from now on; resolves at EXIT with everything it said. */
export function collect(client: MonitorClient): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  let started: MonitorStarted | undefined;
  let error: MonitorStartError | undefined;
  client.on('stdout', (b) => { stdout += b.toString('utf8'); });
  client.on('stderr', (b) => { stderr += b.toString('utf8'); });
  client.on('started', (s) => { started = s; });
  client.on('error', (e) => { error = e; });
  return client.waitExit().then((exit) => ({ stdout, stderr, exit, started, error }));
}
