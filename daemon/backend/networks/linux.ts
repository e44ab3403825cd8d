// The kernel side of bridge networks, through iproute2: a bridge per network, and per
// container and network a veth pair whose inner end is moved into the container's network
// namespace (found by its init's pid), renamed, addressed and routed before the process runs.
// First step: `ip` and `nsenter` are spawned per container (about 3 spawns); netlink from the
// addon is the planned replacement for the start hot path.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';

export interface LinkSpec {
  /** init pid of the container (host pid namespace) */
  pid: number;
  bridge: string;
  /** name inside the container: eth0, eth1, ... */
  ifname: string;
  /** a.b.c.d/n */
  address: string;
  gateway: string;
  mac: string;
  /** also the default route (the container's first network) */
  defaultRoute: boolean;
}

/** Bridges and veths; a recording fake in unit tests. */
export interface NetDriver {
  ensureBridge(name: string, gatewayCidr: string): Promise<void>;
  removeBridge(name: string): Promise<void>;
  /** Creates the pair and configures the inner end; returns the host end's name. */
  attach(spec: LinkSpec, key: string): Promise<string>;
  detach(hostIf: string): Promise<void>;
}

function run(cmd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve(String(stdout));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Host-side veth names carry `berth` so leftovers are found (IFNAMSIZ: 15 characters). */
export function vethName(key: string): string {
  return 'berth' + createHash('sha256').update(key).digest('hex').slice(0, 10);
}

export const iproute2: NetDriver = {
  async ensureBridge(name, gatewayCidr) {
    try {
      await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    } catch (err) {
      if (!/File exists/.test((err as Error).message)) throw err;
    }
    await run('ip', ['-batch', '-'], `addr replace ${gatewayCidr} dev ${name}\nlink set ${name} up\n`);
  },
  async removeBridge(name) {
    try {
      await run('ip', ['link', 'del', name]);
    } catch (err) {
      if (!/Cannot find device|does not exist/.test((err as Error).message)) throw err;
    }
  },
  async attach(s, key) {
    const host = vethName(key);
    const peer = 'berthp' + host.slice(5, 14);
    await run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', String(s.pid)]);
    try {
      await run('ip', ['link', 'set', host, 'master', s.bridge, 'up']);
      const inner = [
        `link set ${peer} name ${s.ifname}`,
        `link set ${s.ifname} address ${s.mac}`,
        `addr add ${s.address} dev ${s.ifname}`,
        `link set ${s.ifname} up`,
        ...(s.defaultRoute ? [`route add default via ${s.gateway} dev ${s.ifname}`] : []),
      ].join('\n') + '\n';
      await run('nsenter', [`--net=/proc/${s.pid}/ns/net`, 'ip', '-batch', '-'], inner);
    } catch (err) {
      await this.detach(host).catch(() => undefined);
      throw err;
    }
    return host;
  },
  async detach(hostIf) {
    try {
      await run('ip', ['link', 'del', hostIf]);
    } catch (err) {
      if (!/Cannot find device|does not exist/.test((err as Error).message)) throw err;
    }
  },
};
