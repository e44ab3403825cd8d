// GET /containers/{id}/top: the host's ps(1) run with the caller's arguments and filtered to the
// container's processes, as dockerd does (daemon/top_unix.go): titles from ps's header, one row
// per process whose PID is in the container's cgroup, the command column keeping its spaces.
import { execFile } from 'node:child_process';
import { InvalidParameter, SystemError } from '../../errors';

export interface TopResult { Titles: string[]; Processes: string[][] }

/** dockerd refuses `-o x=PID`-style renames of the PID column, which the filter needs. */
export function validatePsArgs(psArgs: string): void {
  for (const m of psArgs.matchAll(/\s+(\S*)=\s*(PID)/g)) {
    if (m[1] !== 'pid') throw new InvalidParameter(`specifying "${m[1]}=${m[2]}" is not allowed`);
  }
}

/** ps output -> Docker's shape, keeping the rows of `pids`. */
export function parsePsOutput(output: string, pids: ReadonlySet<number>): TopResult {
  const lines = output.split('\n');
  const titles = (lines[0] ?? '').trim().split(/[ \t\n\v\f\r]+/).filter(Boolean);
  const pidIndex = titles.indexOf('PID');
  if (pidIndex < 0) throw new SystemError("Couldn't find PID field in ps output");
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    if (line.length === 0) continue;
    const fields = line.trim().split(/[ \t\n\v\f\r]+/);
    const p = fields[pidIndex] === '-' ? -1 : Number(fields[pidIndex]);
    if (!Number.isInteger(p)) throw new SystemError(`unexpected pid '${fields[pidIndex]}'`);
    if (!pids.has(p)) continue;
    if (fields.length > titles.length) {
      fields[titles.length - 1] = fields.slice(titles.length - 1).join(' ');
      fields.length = titles.length;
    }
    processes.push(fields);
  }
  return { Titles: titles, Processes: processes };
}

function runPs(args: string[]): Promise<{ ok: true; out: string } | { ok: false; err: string }> {
  return new Promise((resolve) => {
    execFile('ps', args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) resolve({ ok: false, err: (stderr.split('\n')[0] || err.message).trim() });
      else resolve({ ok: true, out: stdout });
    });
  });
}

/** Runs `ps <psArgs> -q<pids>` (or without -q when ps rejects the mix) and filters its rows. */
export async function top(pids: number[], psArgs: string): Promise<TopResult> {
  const args = (psArgs || '-ef').split(' ');
  validatePsArgs(psArgs || '-ef');
  let r = await runPs([...args, `-q${pids.join(',')}`]);
  // some ps options (such as f) cannot be used together with q: retry without it
  if (!r.ok) r = await runPs(args);
  if (!r.ok) throw new SystemError(`ps: ${r.err}`);
  return parsePsOutput(r.out, new Set(pids));
}
