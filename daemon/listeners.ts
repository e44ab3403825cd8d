// What berthd's listeners need besides an address: the group that owns its unix sockets
// (dockerd's -G, the `docker` group convention with `berth`) and the TLS settings of its
// tcp:// listeners. main.ts listens; this module only decides.
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions, type TlsOptions } from 'node:tls';
import { UsageError, type DaemonConfig, type TcpSecurity } from './config';

/** The default socket group: missing is fine (root's group then), as with dockerd's `docker`. */
export const DEFAULT_SOCKET_GROUP = 'berth';

/** The gid of a group named or numbered `name` in /etc/group (dockerd's lookupGID). */
export function lookupGid(name: string, groupFile = '/etc/group'): number | undefined {
  let text = '';
  try { text = readFileSync(groupFile, 'utf8'); } catch { /* no group file: numbers only */ }
  for (const line of text.split('\n')) {
    const [gname, , gid] = line.split(':');
    if (gid === undefined || !/^\d+$/.test(gid)) continue;
    if (gname === name || gid === name) return Number(gid);
  }
  return /^\d+$/.test(name) ? Number(name) : undefined;
}

/**
 * The gid for berthd's unix sockets: the configured group's; berthd's own when the group is ''
 * or is the default `berth` that this host lacks (with a warning); an unknown other group is
 * an error, as with dockerd.
 */
export function socketGid(group: string, warn: (m: string) => void, groupFile?: string): number {
  const own = process.getgid?.() ?? 0;
  if (group === '') return own;
  const gid = lookupGid(group, groupFile);
  if (gid !== undefined) return gid;
  if (group !== DEFAULT_SOCKET_GROUP) throw new UsageError(`group ${group} not found`);
  warn(`could not change group of the socket to ${group}: group ${group} not found (groupadd --system ${group} to let its members use berth)`);
  return own;
}

/** node:tls server options for the tcp:// listeners; undefined for plain HTTP. */
export function tlsServerOptions(c: DaemonConfig, sec: TcpSecurity): TlsOptions | undefined {
  if (sec.mode === 'plain') return undefined;
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UsageError(`could not read ${what} ${path}: ${(err as Error).message}`);
    }
  };
  const ctx: SecureContextOptions = { cert: read('TLS certificate', c.tlsCert), key: read('TLS key', c.tlsKey), minVersion: 'TLSv1.2' };
  if (sec.mode === 'verify') ctx.ca = read('CA certificate', c.tlsCaCert);
  try {
    createSecureContext(ctx); // a key that does not match its certificate, a PEM that is not one
  } catch (err) {
    throw new UsageError(`could not load the TLS key pair ${c.tlsCert}, ${c.tlsKey}: ${(err as Error).message}`);
  }
  return sec.mode === 'verify' ? { ...ctx, requestCert: true, rejectUnauthorized: true } : ctx;
}
