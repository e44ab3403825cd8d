// What the bench reads from /proc: parent, name, command line and memory of processes.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** The comm name from /proc/<pid>/status. */
  name: string;
  cmdline: string[];
}

export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return {
      pid,
      ppid: Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? -1),
      name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '',
      cmdline,
    };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** Every process there is now (kernel threads included; they have an empty cmdline). */
export function allProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const p = procInfo(Number(e));
    if (p) out.push(p);
  }
  return out;
}

/** Children of any of `parents`. */
export function childrenOf(parents: number[], procs = allProcs()): number[] {
  const set = new Set(parents);
  return procs.filter((p) => set.has(p.ppid)).map((p) => p.pid);
}

function kbField(file: string, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** VmRSS in kB (0 when the process is gone). */
export const rssKb = (pid: number): number => kbField(`/proc/${pid}/status`, 'VmRSS');
/** Proportional set size in kB: shared pages divided among their sharers (0 when gone). */
export const pssKb = (pid: number): number => kbField(`/proc/${pid}/smaps_rollup`, 'Pss');

export interface MemoryGroup {
  count: number;
  rssKb: number;
  pssKb: number;
}

export function memoryOf(pids: number[]): MemoryGroup {
  return {
    count: pids.length,
    rssKb: pids.reduce((a, p) => a + rssKb(p), 0),
    pssKb: pids.reduce((a, p) => a + pssKb(p), 0),
  };
}
