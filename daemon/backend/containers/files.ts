// A container's own files: its directories, its init layer (the mount points berth needs,
// kept out of the upper dir so diff, commit and export never show them), /etc/hostname,
// /etc/hosts and /etc/resolv.conf as Docker writes them.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ContainerPaths {
  /** <data-root>/containers/<id> */
  dir: string;
  upper: string;
  work: string;
  init: string;
  hostname: string;
  hosts: string;
  resolvConf: string;
  log: string;
  /** <exec-root>/containers/<id> */
  run: string;
  rootfs: string;
  socket: string;
  exitFile: string;
  monitorLog: string;
  monitorConfig: string;
}

export function containerPaths(dataRoot: string, execRoot: string, id: string): ContainerPaths {
  const dir = join(dataRoot, 'containers', id);
  const run = join(execRoot, 'containers', id);
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    init: join(dir, 'init'),
    hostname: join(dir, 'hostname'),
    hosts: join(dir, 'hosts'),
    resolvConf: join(dir, 'resolv.conf'),
    log: join(dir, `${id}-json.log`),
    run,
    rootfs: join(run, 'rootfs'),
    socket: join(run, 'monitor.sock'),
    exitFile: join(run, 'exit.json'),
    monitorLog: join(run, 'monitor.log'),
    monitorConfig: join(run, 'monitor.conf'),
  };
}

const initDirs = ['proc', 'sys', 'dev', 'dev/pts', 'dev/shm', 'etc'];
const initFiles = ['.dockerenv', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'dev/console'];

/** Creates the container's directories, init layer and network files (at create time). */
export async function createContainerFiles(p: ContainerPaths, hostname: string, domainname: string): Promise<void> {
  await mkdir(p.dir, { recursive: true, mode: 0o710 });
  await Promise.all([mkdir(p.upper, { mode: 0o755 }), mkdir(p.work, { mode: 0o700 }), mkdir(p.init, { mode: 0o755 })]);
  for (const d of initDirs) await mkdir(join(p.init, d), { recursive: true, mode: 0o755 });
  await Promise.all(initFiles.map((f) => writeFile(join(p.init, f), '', { mode: 0o755 })));
  await writeFile(p.hostname, hostname + '\n', { mode: 0o644 });
  await writeFile(p.hosts, hostsFile(hostname, domainname), { mode: 0o644 });
  await writeFile(p.resolvConf, await resolvConf(), { mode: 0o644 });
}

/** Removes everything the container owns on disk (data and exec dirs). */
export async function removeContainerFiles(p: ContainerPaths): Promise<void> {
  await rm(p.run, { recursive: true, force: true });
  await rm(p.dir, { recursive: true, force: true });
}

export function hostsFile(hostname: string, domainname: string, ip?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  if (ip) lines.push(`${ip}\t${domainname ? `${hostname}.${domainname} ` : ''}${hostname}`);
  return lines.join('\n') + '\n';
}

/**
 * The host's resolv.conf without loopback nameservers (they mean nothing inside the
 * container's network namespace); Google's public resolvers when none remain, as Docker does.
 */
export async function resolvConf(source = '/etc/resolv.conf'): Promise<string> {
  let text = '';
  try {
    text = await readFile(source, 'utf8');
  } catch {
    /* no resolv.conf on the host */
  }
  const kept = text.split('\n').filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$|0\.0\.0\.0)/.test(l));
  if (!kept.some((l) => /^\s*nameserver\s/.test(l))) {
    kept.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  }
  return kept.join('\n').replace(/\n*$/, '\n');
}
