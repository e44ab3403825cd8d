// The kernel side of bridge networks: a bridge per network (made once per network and daemon
// run, through iproute2 and iptables), and per container and network a veth pair whose inner
// end is made inside the container's network namespace (found by its init's pid), addressed and
// routed before the process runs — by netlink from the addon, so a container start on a bridge
// network spawns no process.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadAddon } from '../../native/binding';

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

/** What the firewall does for a bridge: outbound NAT and forwarding, or (internal) neither. */
export interface BridgeRules { subnet: string; internal: boolean }

/** Bridges and veths; a recording fake in unit tests. */
export interface NetDriver {
  /** Makes the bridge (if missing), gives it the gateway address and its firewall rules. */
  ensureBridge(name: string, gatewayCidr: string, rules: BridgeRules): Promise<void>;
  /** Removes the bridge and every rule made for it. */
  removeBridge(name: string): Promise<void>;
  /** Creates the pair and configures the inner end; returns the host end's name. */
  attach(spec: LinkSpec, key: string): Promise<string>;
  detach(hostIf: string): Promise<void>;
  /** The container's default route via `gateway` (another network takes over as its gateway). */
  defaultRoute(pid: number, gateway: string): Promise<void>;
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

export const linuxNet: NetDriver = {
  async ensureBridge(name, gatewayCidr, rules) {
    try {
      await run('ip', ['link', 'add', 'name', name, 'type', 'bridge']);
    } catch (err) {
      if (!/File exists/.test((err as Error).message)) throw err;
    }
    await run('ip', ['-batch', '-'], `addr replace ${gatewayCidr} dev ${name}\nlink set ${name} up\n`);
    await removeRules(name);
    await restore(bridgeRules(name, rules));
    if (!rules.internal) writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
  },
  async removeBridge(name) {
    await removeRules(name);
    try {
      await run('ip', ['link', 'del', name]);
    } catch (err) {
      if (!/Cannot find device|does not exist/.test((err as Error).message)) throw err;
    }
  },
  async attach(s, key) {
    const host = vethName(key);
    const addon = loadAddon();
    const add = () => addon.vethAttach(s.pid, host, s.bridge, s.ifname, s.mac, s.address, s.gateway, s.defaultRoute);
    try {
      add();
    } catch (err) {
      // the pair of this container's previous run, not yet reaped with its namespace
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      addon.linkDelete(host);
      add();
    }
    return host;
  },
  async detach(hostIf) {
    loadAddon().linkDelete(hostIf);
  },
  async defaultRoute(pid, gateway) {
    loadAddon().defaultRoute(pid, gateway);
  },
};

/** The comment that marks every rule made for `bridge` (how they are found and removed). */
export const ruleTag = (bridge: string) => `berth:${bridge}`;

/**
 * iptables-restore input for a bridge: masquerade of its subnet leaving through any other
 * interface and forwarding out of it (replies back in); no new connection forwarded into it from
 * another interface, so containers of different networks cannot reach each other (Docker's
 * isolation between bridge networks; published ports come through berthd's proxy, not the
 * forward path). An internal network instead drops whatever would cross between it and any
 * other interface.
 */
export function bridgeRules(name: string, r: BridgeRules): string {
  const tag = `-m comment --comment ${ruleTag(name)}`;
  if (r.internal) {
    return ['*filter', `-I FORWARD -i ${name} ! -o ${name} ${tag} -j DROP`, `-I FORWARD -o ${name} ! -i ${name} ${tag} -j DROP`, 'COMMIT', ''].join('\n');
  }
  return [
    '*nat', `-A POSTROUTING -s ${r.subnet} ! -o ${name} ${tag} -j MASQUERADE`, 'COMMIT',
    '*filter', `-I FORWARD -o ${name} ! -i ${name} -m conntrack ! --ctstate RELATED,ESTABLISHED ${tag} -j DROP`,
    `-A FORWARD -i ${name} ${tag} -j ACCEPT`, `-A FORWARD -o ${name} -m conntrack --ctstate RELATED,ESTABLISHED ${tag} -j ACCEPT`, 'COMMIT', '',
  ].join('\n');
}

/** iptables-save lines tagged for `name`, turned into their deletions (iptables-restore input). */
export function deletionsOf(saved: string, name: string): string {
  const tag = ruleTag(name);
  const out: string[] = [];
  let table = '';
  let rules: string[] = [];
  const flush = () => { if (rules.length) out.push(`*${table}`, ...rules, 'COMMIT'); rules = []; };
  for (const line of saved.split('\n')) {
    if (line.startsWith('*')) { flush(); table = line.slice(1); continue; }
    if (line.startsWith('-A ') && line.split(' ').some((w) => w.replace(/"/g, '') === tag)) rules.push('-D ' + line.slice(3));
  }
  flush();
  return out.length ? out.join('\n') + '\n' : '';
}

/** iptables-restore without flushing; nftables' transactions can collide with another writer: retried. */
async function restore(input: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await run('iptables-restore', ['-w', '--noflush'], input);
      return;
    } catch (err) {
      if (attempt >= 4 || !/temporarily unavailable|resource busy|Another app/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50 * (attempt + 1)));
    }
  }
}

async function removeRules(name: string): Promise<void> {
  const dels = deletionsOf(await run('iptables-save', []), name);
  if (dels) await restore(dels);
}
