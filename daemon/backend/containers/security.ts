// Isolation inside the container, from HostConfig to the monitor's security keys
// (native/MONITOR-PROTOCOL.md, "Security keys"): the capability set as moby's
// caps.TweakCapabilities computes it, --security-opt (no-new-privileges, seccomp), the seccomp
// profile in Docker's JSON format turned into the monitor's line format, ulimits, sysctls,
// --group-add, --shm-size and --device.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { arch, release } from 'node:os';
import { join } from 'node:path';
import { InvalidParameter } from '../../errors';
import type { Json } from './config';

/** linux/capability.h order: a capability's number is its index. */
const CAPS = [
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP', 'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER', 'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT',
  'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE', 'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE',
  'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP', 'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ',
  'PERFMON', 'BPF', 'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** moby's oci/caps.DefaultCapabilities */
export const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE'];

/** The capabilities this kernel knows (moby's GetAllCapabilities). */
function kernelCaps(): string[] {
  let last = CAPS.length - 1;
  try {
    last = Math.min(last, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
  } catch { /* keep the table's */ }
  return CAPS.slice(0, last + 1);
}

function normalizeCaps(list: unknown): string[] {
  if (list == null) return [];
  if (!Array.isArray(list)) throw new InvalidParameter('invalid CapAdd/CapDrop: must be a list of capability names');
  return list.map((raw) => {
    const c = String(raw).toUpperCase();
    if (c === 'ALL') return c;
    const name = c.startsWith('CAP_') ? c : `CAP_${c}`;
    if (!CAPS.includes(name)) throw new InvalidParameter(`unknown capability: "${name}"`);
    return name;
  });
}

/** moby's caps.TweakCapabilities: the container's final capability set. */
export function capabilitySet(hc: Json): string[] {
  if (hc.Privileged) return kernelCaps();
  const add = normalizeCaps(hc.CapAdd), drop = normalizeCaps(hc.CapDrop);
  if (!add.length && !drop.length) return DEFAULT_CAPS;
  if (add.includes('ALL')) return kernelCaps().filter((c) => !drop.includes(c));
  if (drop.includes('ALL')) return [...new Set(add)];
  return [...new Set([...DEFAULT_CAPS.filter((c) => !drop.includes(c)), ...add])];
}

// ---- --security-opt ----

export interface SecurityOpts {
  noNewPrivs: boolean;
  /** 'unconfined', a profile's JSON text, or undefined for the default profile */
  seccomp?: string;
}

/** moby's parseSecurityOpt, with AppArmor and SELinux options accepted and ignored (neither is in use here). */
export function parseSecurityOpts(list: unknown): SecurityOpts {
  const out: SecurityOpts = { noNewPrivs: false };
  for (const raw of (Array.isArray(list) ? list : []) as unknown[]) {
    const opt = String(raw);
    if (opt === 'no-new-privileges') {
      out.noNewPrivs = true;
      continue;
    }
    if (opt === 'disable') continue; // label=disable's old spelling
    const i = opt.search(/[=:]/);
    if (i < 0) throw new InvalidParameter(`invalid --security-opt 1: "${opt}"`);
    const [k, v] = [opt.slice(0, i), opt.slice(i + 1)];
    if (k === 'no-new-privileges') {
      if (!['true', 'false', '1', '0'].includes(v)) throw new InvalidParameter(`invalid --security-opt 2: "${opt}"`);
      out.noNewPrivs = v === 'true' || v === '1';
    } else if (k === 'seccomp') out.seccomp = v;
    else if (k !== 'label' && k !== 'apparmor' && k !== 'systempaths' && k !== 'writable-cgroups') throw new InvalidParameter(`invalid --security-opt 2: "${opt}"`);
  }
  return out;
}

// ---- seccomp: Docker's profile format ----

interface SeccompArg { index: number; value: number; valueTwo?: number; op: string }
interface SeccompFilter { caps?: string[]; arches?: string[]; minKernel?: string }
interface SeccompRule {
  names?: string[]; name?: string; action: string; errnoRet?: number; args?: SeccompArg[] | null;
  includes?: SeccompFilter; excludes?: SeccompFilter;
}
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: Array<{ architecture: string; subArchitectures?: string[] }>;
  syscalls?: SeccompRule[];
}

const EPERM = 1, ENOSYS = 38;
const rule = (names: string[], excludeCaps?: string[], extra: Partial<SeccompRule> = {}): SeccompRule =>
  ({ names, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, ...(excludeCaps ? { excludes: { caps: excludeCaps } } : {}), ...extra });
/** clone's namespace flags: NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET */
const CLONE_NS_FLAGS = [0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

/**
 * berth's default profile, with the effect of Docker's on everything a container must not do:
 * what Docker's allowlist leaves out is refused with EPERM, what it allows only with a
 * capability is refused unless the container has that capability; the rest is allowed.
 */
export const DEFAULT_SECCOMP_PROFILE: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ALLOW',
  defaultErrnoRet: EPERM,
  syscalls: [
    rule(['add_key', 'keyctl', 'request_key', 'userfaultfd', 'create_module', 'get_kernel_syms', 'query_module', 'nfsservctl',
      'uselib', 'ustat', 'sysfs', '_sysctl', 'vm86', 'vm86old', 'lookup_dcookie', 'kexec_file_load', 'kexec_load']),
    rule(['mount', 'umount', 'umount2', 'unshare', 'setns', 'pivot_root', 'swapon', 'swapoff', 'quotactl', 'quotactl_fd',
      'fanotify_init', 'name_to_handle_at', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'mount_setattr',
      'lookup_dcookie'], ['CAP_SYS_ADMIN']),
    // new namespaces from clone, and clone3 (whose flags a filter cannot see: ENOSYS, so libc falls back to clone)
    rule(['clone'], ['CAP_SYS_ADMIN'], { args: CLONE_NS_FLAGS.map((f) => ({ index: 0, value: f, valueTwo: f, op: 'SCMP_CMP_MASKED_EQ' })) }),
    rule(['clone3'], ['CAP_SYS_ADMIN'], { errnoRet: ENOSYS }),
    rule(['bpf'], ['CAP_SYS_ADMIN', 'CAP_BPF']),
    rule(['perf_event_open'], ['CAP_SYS_ADMIN', 'CAP_PERFMON']),
    rule(['syslog'], ['CAP_SYS_ADMIN', 'CAP_SYSLOG']),
    rule(['reboot'], ['CAP_SYS_BOOT']),
    rule(['init_module', 'finit_module', 'delete_module'], ['CAP_SYS_MODULE']),
    rule(['acct'], ['CAP_SYS_PACCT']),
    rule(['kcmp', 'pidfd_getfd', 'process_madvise'], ['CAP_SYS_PTRACE']),
    rule(['iopl', 'ioperm'], ['CAP_SYS_RAWIO']),
    rule(['settimeofday', 'stime', 'clock_settime', 'clock_settime64', 'clock_adjtime', 'clock_adjtime64'], ['CAP_SYS_TIME']),
    rule(['vhangup'], ['CAP_SYS_TTY_CONFIG']),
    rule(['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node', 'move_pages'], ['CAP_SYS_NICE']),
    rule(['open_by_handle_at'], ['CAP_DAC_READ_SEARCH']),
    rule(['chroot'], ['CAP_SYS_CHROOT']),
  ],
};

const NODE_ARCH: Record<string, { go: string; scmp: string }> = {
  x64: { go: 'amd64', scmp: 'SCMP_ARCH_X86_64' }, arm64: { go: 'arm64', scmp: 'SCMP_ARCH_AARCH64' },
  ia32: { go: '386', scmp: 'SCMP_ARCH_X86' }, arm: { go: 'arm', scmp: 'SCMP_ARCH_ARM' },
};

const ACTIONS: Record<string, (n: number) => string> = {
  SCMP_ACT_ALLOW: () => 'allow', SCMP_ACT_ERRNO: (n) => `errno:${n}`, SCMP_ACT_KILL: () => 'kill_thread',
  SCMP_ACT_KILL_THREAD: () => 'kill_thread', SCMP_ACT_KILL_PROCESS: () => 'kill_process', SCMP_ACT_TRAP: () => 'trap',
  SCMP_ACT_TRACE: (n) => `trace:${n}`, SCMP_ACT_LOG: () => 'log',
};
const OPS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];

function kernelAtLeast(min: string, kernel: string): boolean {
  const a = min.split('.').map(Number), b = kernel.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 2; i++) if ((b[i] ?? 0) !== (a[i] ?? 0)) return (b[i] ?? 0) > (a[i] ?? 0);
  return true;
}

function seccompArch(a: string): string {
  if (!/^SCMP_ARCH_[A-Z0-9_]+$/.test(a)) throw new Error(`unknown architecture ${JSON.stringify(a)}`);
  return a.slice('SCMP_ARCH_'.length).toLowerCase();
}

export interface SeccompContext { caps: string[]; kernel?: string; arch?: string }

/**
 * A Docker JSON profile → the monitor's line format, filtered as moby does for this
 * container: includes/excludes by capability, architecture and minimum kernel.
 */
export function seccompLines(profile: SeccompProfile, ctx: SeccompContext): string {
  if (!profile || typeof profile !== 'object' || typeof profile.defaultAction !== 'string') throw new Error('no defaultAction');
  const kernel = ctx.kernel ?? release();
  const node = NODE_ARCH[ctx.arch ?? arch()] ?? { go: ctx.arch ?? arch(), scmp: '' };
  const action = (name: string, errno: number | undefined): string => {
    const fn = ACTIONS[name];
    if (!fn) throw new Error(`unsupported action ${JSON.stringify(name)}`);
    return fn(errno ?? profile.defaultErrnoRet ?? EPERM);
  };
  const dflt = action(profile.defaultAction, profile.defaultErrnoRet);
  const lines = [`default ${dflt}`];
  let arches = profile.architectures ?? [];
  for (const m of profile.archMap ?? []) if (m.architecture === node.scmp) arches = [m.architecture, ...(m.subArchitectures ?? [])];
  for (const a of arches) lines.push(`arch ${seccompArch(a)}`);
  const has = (c: string) => ctx.caps.includes(c);
  for (const r of profile.syscalls ?? []) {
    const inc = r.includes ?? {}, exc = r.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every(has)) continue;
    if (exc.caps?.some(has)) continue;
    if (inc.arches?.length && !inc.arches.includes(node.go)) continue;
    if (exc.arches?.includes(node.go)) continue;
    if (inc.minKernel && !kernelAtLeast(inc.minKernel, kernel)) continue;
    if (exc.minKernel && kernelAtLeast(exc.minKernel, kernel)) continue;
    const act = action(r.action, r.errnoRet);
    if (act === dflt) continue;
    const args = r.args ?? [];
    const conds = args.map((a) => {
      if (!OPS.includes(a.op) || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) throw new Error(`bad argument ${JSON.stringify(a)}`);
      return `${a.index} ${a.op.slice('SCMP_CMP_'.length).toLowerCase()} ${BigInt(a.value)} ${BigInt(a.valueTwo ?? 0)}`;
    });
    // runc: comparisons on one argument index are alternatives (one rule each), otherwise all must hold
    const sameIndex = new Set(args.map((a) => a.index)).size < args.length;
    const groups = sameIndex ? conds.map((c) => [c]) : [conds];
    for (const name of r.names ?? (r.name ? [r.name] : [])) {
      if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad syscall name ${JSON.stringify(name)}`);
      for (const g of groups) lines.push(['rule', name, act, ...g].join(' '));
    }
  }
  return lines.join('\n') + '\n';
}

/** The seccomp profile a container gets: null when unconfined (or --privileged without one). */
/**
 * seccompLines for one profile object and capability set, remembered: the default profile is one
 * object, so every container with the default capabilities reuses one conversion.
 */
const linesMemo = new WeakMap<SeccompProfile, Map<string, string>>();
function profileLines(profile: SeccompProfile, caps: string[]): string {
  let byCaps = linesMemo.get(profile);
  if (!byCaps) linesMemo.set(profile, byCaps = new Map());
  const key = caps.join(',');
  let lines = byCaps.get(key);
  if (lines === undefined) byCaps.set(key, lines = seccompLines(profile, { caps }));
  return lines;
}

function seccompProfileOf(opts: SecurityOpts, privileged: boolean): SeccompProfile | null {
  if (opts.seccomp === 'unconfined') return null;
  if (opts.seccomp === undefined || opts.seccomp === '' || opts.seccomp === 'builtin') return privileged ? null : DEFAULT_SECCOMP_PROFILE;
  try {
    return JSON.parse(opts.seccomp) as SeccompProfile;
  } catch (err) {
    throw new InvalidParameter(`Decoding seccomp profile failed: ${(err as Error).message}`);
  }
}

// ---- ulimits, sysctls, devices ----

export interface Ulimit { Name: string; Soft: number; Hard: number }
const RLIMITS = ['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack'];

/** HostConfig.Ulimits over the daemon's default-ulimits (the container's win, by name). */
export function ulimitsOf(hc: Json, defaults: Record<string, Ulimit> = {}): Ulimit[] {
  const byName = new Map<string, Ulimit>(Object.values(defaults).map((u) => [u.Name, u]));
  for (const u of (hc.Ulimits ?? []) as Ulimit[]) byName.set(u.Name, u);
  for (const u of byName.values()) {
    if (!RLIMITS.includes(u.Name)) throw new InvalidParameter(`invalid ulimit type: ${u.Name}`);
    if (!Number.isInteger(u.Soft) || !Number.isInteger(u.Hard)) throw new InvalidParameter(`invalid ulimit ${u.Name}: soft and hard must be integers`);
    if (u.Hard !== -1 && (u.Soft === -1 || u.Soft > u.Hard)) throw new InvalidParameter(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  return [...byName.values()];
}

const NAMESPACED_SYSCTLS = ['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'];

/** runc's validateSysctl: only sysctls of the container's own ipc and net namespaces. */
export function sysctlsOf(hc: Json): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries((hc.Sysctls ?? {}) as Record<string, string>)) {
    if (!/^[a-z0-9_.\-/]+$/i.test(k) || k.includes('..') || String(v).includes('\n')) throw new InvalidParameter(`invalid sysctl ${k}=${v}`);
    const ipc = NAMESPACED_SYSCTLS.includes(k) || k.startsWith('fs.mqueue.');
    const net = k.startsWith('net.');
    if (!ipc && !net) throw new InvalidParameter(`sysctl "${k}" is not in a separate kernel namespace`);
    if (net && hc.NetworkMode === 'host') throw new InvalidParameter(`sysctl "${k}" not allowed in host network namespace`);
    out.push(`${k}=${v}`);
  }
  return out;
}

export interface DeviceSpec { type: 'c' | 'b'; major: number; minor: number; mode: number; path: string; permissions: string }

/** --device HOST[:CONTAINER[:rwm]]: the node to make in the container and its cgroup rule. */
export function devicesOf(hc: Json): DeviceSpec[] {
  return ((hc.Devices ?? []) as Array<{ PathOnHost: string; PathInContainer?: string; CgroupPermissions?: string }>).map((d) => {
    let st;
    try {
      st = statSync(d.PathOnHost);
    } catch {
      throw new InvalidParameter(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new InvalidParameter(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
    const perms = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(perms)) throw new InvalidParameter(`invalid device cgroup permissions: ${perms}`);
    const path = d.PathInContainer || d.PathOnHost;
    if (!path.startsWith('/') || path.includes('\n')) throw new InvalidParameter(`invalid device path in container: ${path}`);
    const { major, minor } = majorMinor(Number(st.rdev));
    return { type: st.isCharacterDevice() ? 'c' : 'b', major, minor, mode: st.mode & 0o7777, path, permissions: perms };
  });
}

/** Directories of /dev that hold no host device a container should get (runc's list). */
const SKIP_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
/** Nodes the monitor makes itself (its defaults, the pty multiplexer and console of the container). */
const OWN_NODES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/ptmx', '/dev/console']);

/** --privileged: every character and block device of the host's /dev, at its path, as Docker gives them. */
export function hostDevices(root = '/dev'): DeviceSpec[] {
  const out: DeviceSpec[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try { names = readdirSync(dir); } catch { return; }
    for (const name of names) {
      const path = `${dir}/${name}`;
      let st;
      try { st = lstatSync(path); } catch { continue; } // gone meanwhile
      if (st.isDirectory()) {
        if (!SKIP_DEV_DIRS.has(name)) walk(path);
      } else if ((st.isCharacterDevice() || st.isBlockDevice()) && !OWN_NODES.has(path) && !path.includes('\n')) {
        const { major, minor } = majorMinor(Number(st.rdev));
        out.push({ type: st.isCharacterDevice() ? 'c' : 'b', major, minor, mode: st.mode & 0o7777, path, permissions: 'rwm' });
      }
    }
  };
  walk(root);
  return out;
}

/** glibc's gnu_dev_major/minor */
function majorMinor(rdev: number): { major: number; minor: number } {
  return { major: ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff), minor: (rdev & 0xff) | ((rdev >>> 12) & ~0xff) };
}

/** The devices cgroup rules a container adds to Docker's defaults: its --device nodes and --device-cgroup-rule. */
export function deviceRulesOf(hc: Json): string[] {
  const rules = devicesOf(hc).map((d) => `${d.type} ${d.major}:${d.minor} ${d.permissions}`);
  for (const r of (hc.DeviceCgroupRules ?? []) as string[]) {
    if (!/^[abc] (\d+|\*):(\d+|\*) [rwm]{1,3}$/.test(r)) throw new InvalidParameter(`invalid device cgroup rule format: '${r}'`);
    rules.push(r);
  }
  return rules;
}

// ---- all of it, for the monitor ----

/** The security keys of a container's monitor config (see MonitorSpec). */
export interface SecuritySpec {
  privileged: boolean;
  caps?: string[];
  noNewPrivs?: boolean;
  seccomp?: string;
  rlimits?: Ulimit[];
  groupAdd?: string[];
  shmSize?: number;
  sysctls?: string[];
  devices?: DeviceSpec[];
}

/** Checks at create what start would refuse (unknown capabilities, bad options, sysctls ...). */
export function validateSecurity(hc: Json, defaultUlimits?: Record<string, Ulimit>): void {
  const caps = capabilitySet(hc);
  const opts = parseSecurityOpts(hc.SecurityOpt);
  const profile = seccompProfileOf(opts, !!hc.Privileged);
  if (profile) {
    try {
      profileLines(profile, caps);
    } catch (err) {
      throw new InvalidParameter(`Decoding seccomp profile failed: ${(err as Error).message}`);
    }
  }
  ulimitsOf(hc, defaultUlimits);
  sysctlsOf(hc);
  deviceRulesOf(hc);
  if (typeof hc.ShmSize === 'number' && hc.ShmSize < 0) throw new InvalidParameter('SHM size can not be less than 0');
  for (const g of (hc.GroupAdd ?? []) as string[]) if (!/^[^\n:]+$/.test(String(g))) throw new InvalidParameter(`invalid group ${g}`);
}

/**
 * The seccomp profile in line format as a file in `dir` named by its content, written once: the
 * containers with the same profile share it, and so does the compiled filter the monitor keeps
 * beside it (`<file>.bpf`), so libseccomp compiles each profile once, not at every start.
 */
function profileFile(dir: string, lines: string): string {
  const file = join(dir, createHash('sha256').update(lines).digest('hex'));
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, lines, { mode: 0o600 });
    renameSync(tmp, file);
  }
  return file;
}

/** The file in seccompDir with the container's seccomp profile in line format; undefined: no filter. */
export function seccompFileOf(hc: Json, seccompDir: string): string | undefined {
  const privileged = !!hc.Privileged;
  const profile = seccompProfileOf(parseSecurityOpts(hc.SecurityOpt), privileged);
  return profile ? profileFile(seccompDir, profileLines(profile, capabilitySet(hc))) : undefined;
}

/** HostConfig → the monitor's security keys; the seccomp profile (line format) goes to a file in seccompDir. */
export function securitySpec(hc: Json, seccompDir: string, defaultUlimits?: Record<string, Ulimit>): SecuritySpec {
  const privileged = !!hc.Privileged;
  const caps = capabilitySet(hc);
  const opts = parseSecurityOpts(hc.SecurityOpt);
  const spec: SecuritySpec = { privileged, noNewPrivs: opts.noNewPrivs };
  if (!privileged) spec.caps = caps;
  spec.seccomp = seccompFileOf(hc, seccompDir);
  spec.rlimits = ulimitsOf(hc, defaultUlimits);
  spec.groupAdd = ((hc.GroupAdd ?? []) as unknown[]).map(String);
  if (hc.ShmSize > 0) spec.shmSize = hc.ShmSize;
  spec.sysctls = sysctlsOf(hc);
  // --privileged: the host's devices too (its --device entries may rename some)
  spec.devices = privileged ? [...hostDevices(), ...devicesOf(hc)] : devicesOf(hc);
  return spec;
}
