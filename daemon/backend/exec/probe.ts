// Healthcheck probes run through the exec path, as dockerd runs them (with its exec events).
import type { Execs } from './index';
import type { HealthProbe } from '../containers/health';

const MAX_OUTPUT = 4096;

export function execProbe(execs: () => Execs): HealthProbe {
  return async (containerId, cmd, timeoutMs) => {
    const x = execs();
    const { Id } = x.create(containerId, { Cmd: cmd, AttachStdout: true, AttachStderr: true });
    const handle = await x.start(Id, { detach: false });
    if (!handle) return { exitCode: x.inspect(Id).ExitCode ?? -1, output: '' };
    let output = '';
    handle.output.on('data', (r: { data: Buffer }) => {
      if (output.length < MAX_OUTPUT) output += r.data.toString('utf8');
    });
    const ended = new Promise<boolean>((resolve) => handle.output.on('end', () => resolve(false)));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([ended, new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); })]);
    clearTimeout(timer);
    if (timedOut) {
      handle.detach();
      return 'timeout';
    }
    return { exitCode: x.inspect(Id).ExitCode ?? -1, output: output.slice(0, MAX_OUTPUT) };
  };
}
