// The network engine: networks (the predefined bridge, host and none, and user-defined
// bridges) and containers' endpoints on them, kept in SQLite; addresses handed out at start
// and given back at stop; the kernel side (bridges, veths) through a NetDriver and published
// ports through a PortProxy, both replaced by fakes in unit tests.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { AddressPool } from '../../config';
import { Conflict, Forbidden, InvalidParameter, NotFound, errorMessage } from '../../errors';
import type { EndpointRow, IpamPool, NetworkRow, NetworksRepo } from '../../store/networks';
import type { EventBus } from '../events';
import { Filters } from '../filters';
import { DEFAULT_POOLS, carveSubnet, cidrText, contains, intToIp, ipToInt, macFor, nextAddress, overlaps, parseCidr, type Cidr } from './ipam';
import { vethName, type NetDriver } from './linux';
import { extraHostEntries, hostsText, readHostResolv, resolvText, selfEntry, updateHosts, writeIfChanged, type HostsEntry } from './files';
import type { Listener, PortProxy, Published } from './ports';
import type { DnsServer, DnsTable, Lookup } from './dns';

export interface NetworksDeps {
  repo: NetworksRepo;
  events: EventBus;
  driver: NetDriver;
  proxy: PortProxy;
  /** daemon.json bip (gateway/prefix of the default bridge) and default-address-pools */
  bip: string;
  pools: AddressPool[];
  /** the default bridge's Linux name (berth0) */
  bridgeName: string;
  /** Serves a user network's names on its gateway; none in unit tests. */
  dns?: (gateway: string, table: DnsTable) => Promise<DnsServer>;
  /** The host's addresses, so no subnet is carved over them. */
  hostNets?: () => Cidr[];
  log?: (msg: string) => void;
}

/** What the network engine knows of a container. */
export interface ContainerInfo {
  id: string; name: string; hostname: string; domainname: string; running: boolean; pid: number;
  hostsPath: string; resolvPath: string; hostnamePath: string;
  /** HostConfig.NetworkMode as created ('' or absent: the default bridge) */
  networkMode?: string;
}

type Json = Record<string, any>;

/** Where a container's network namespace and files come from (--network container:X joins X's). */
export interface Sandbox {
  netns: 'none' | 'host' | string; hostsPath?: string; resolvPath?: string; hostnamePath?: string;
  /** where the container's 127.0.0.11 relays queries (a user network's gateway) */
  dnsRelay?: string;
}

/** The container engine's view of the network engine (the hooks it calls). */
export interface ContainerNetworking {
  /** At create, before the container is recorded: Docker's conflicts for the mode; the hostname the mode implies. */
  configure(requested: Json, config: Json, hostConfig: Json): void;
  /** At create: checks the networks named and records the endpoints. */
  prepare(id: string, hostConfig: Json, networking: Json | undefined): void;
  /** At create: /etc/hosts and /etc/resolv.conf where the mode fixes them (none, host); else undefined (start writes them). */
  filesAtCreate(c: ContainerInfo, hostConfig: Json): { hosts: string; resolv: string } | undefined;
  /** At start: the namespace the init gets and whose files it binds. */
  sandbox(id: string, hostConfig: Json): Sandbox;
  /** With the init held before GO: links, addresses, routes, ports, /etc/hosts, /etc/resolv.conf. */
  start(c: ContainerInfo, hostConfig: Json, exposed: Json | undefined): Promise<void>;
  /** Whether start() needs no process (host, none, container:<id>): it can run before the init exists. */
  wiresNothing(hostConfig: Json): boolean;
  /** After a daemon restart, for a container that kept running: its links, ports and names again. */
  restore(c: ContainerInfo, hostConfig: Json, exposed: Json | undefined): Promise<void>;
  /** After the exit: ports closed, links removed, addresses given back. */
  stop(id: string): Promise<void>;
  /** Inspect's NetworkSettings. */
  settings(id: string, hostConfig: Json, exposed: Json | undefined): Json;
  /** docker ps: Ports and NetworkSettings.Networks, per container, from one read of the store. */
  summaries(): (id: string, hostConfig: Json, exposed: Json | undefined) => { Ports: Json[]; Networks: Json };
  /** docker ps filters network=, publish=, expose=. */
  matches(filter: 'network' | 'publish' | 'expose', value: string, id: string, hostConfig: Json, exposed: Json | undefined): boolean;
}

export interface NetworkCreateRequest {
  Name?: string;
  Driver?: string;
  Internal?: boolean;
  Attachable?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: IpamPool[] | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

const PREDEFINED = ['bridge', 'host', 'none'];
const rfc3339Nano = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
const newId = () => randomBytes(32).toString('hex');

interface Running {
  links: string[];
  listeners: Listener[];
}

export class Networks implements ContainerNetworking {
  private readonly running = new Map<string, Running>();
  private readonly dnsServers = new Map<string, DnsServer>();
  /** networks whose bridge, address and rules were made in this daemon run */
  private readonly ready = new Set<string>();
  /** container id → the servers its names outside the networks are forwarded to */
  private readonly upstreams = new Map<string, string[]>();
  /** container id → name/aliases/ip, for the embedded DNS and inspect's Containers */
  private readonly info = new Map<string, ContainerInfo>();
  private lookupContainer: ((ref: string) => ContainerInfo) | undefined;

  constructor(private readonly d: NetworksDeps) {}

  /** The container engine's lookup (by ID, name or prefix; throws NotFound). */
  useContainers(lookup: (ref: string) => ContainerInfo): void {
    this.lookupContainer = lookup;
  }

  /** Makes the predefined networks on first start; moves the default bridge when bip changed. */
  init(): void {
    const have = new Map(this.d.repo.all().map((n) => [n.name, n]));
    const bridgeIpam = this.defaultBridgeIpam();
    const old = have.get('bridge');
    if (old && this.d.bip && JSON.stringify(old.ipam.Config) !== JSON.stringify(bridgeIpam)) {
      this.d.repo.delete(old.id);
      have.delete('bridge');
    }
    const base = { created: rfc3339Nano(), internal: false, attachable: false, enableIPv6: false, labels: {} };
    if (!have.has('bridge')) {
      this.d.repo.insert({
        ...base, id: old?.id ?? newId(), name: 'bridge', driver: 'bridge', bridge: this.d.bridgeName,
        ipam: { Driver: 'default', Options: null, Config: bridgeIpam },
        options: {
          'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': this.d.bridgeName, 'com.docker.network.driver.mtu': '1500',
        },
      });
    }
    if (!have.has('host')) this.d.repo.insert({ ...base, id: newId(), name: 'host', driver: 'host', bridge: '', ipam: { Driver: 'default', Options: null, Config: [] }, options: {} });
    if (!have.has('none')) this.d.repo.insert({ ...base, id: newId(), name: 'none', driver: 'null', bridge: '', ipam: { Driver: 'default', Options: null, Config: [] }, options: {} });
  }

  private defaultBridgeIpam(): IpamPool[] {
    if (this.d.bip) {
      const c = parseCidr(this.d.bip);
      return [{ Subnet: cidrText(c), Gateway: intToIp(c.addr) }];
    }
    const c = carveSubnet(this.pools(), this.hostNets())!;
    return [{ Subnet: cidrText(c), Gateway: intToIp(c.base + 1) }];
  }

  private pools(): AddressPool[] {
    return this.d.pools.length ? this.d.pools : DEFAULT_POOLS;
  }

  private hostNets(): Cidr[] {
    return this.d.hostNets?.() ?? [];
  }

  // ---- lookup ---------------------------------------------------------------------------

  /** By full ID, name, or unique ID prefix, as dockerd. */
  find(ref: string): NetworkRow {
    const all = this.d.repo.all();
    const hit = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
    if (hit) return hit;
    const byPrefix = ref && /^[0-9a-f]+$/.test(ref) ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw new InvalidParameter(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    if (byPrefix.length === 1) return byPrefix[0]!;
    throw new NotFound(`network ${ref} not found`);
  }

  private view(n: NetworkRow, withContainers: boolean): Record<string, unknown> {
    const containers: Record<string, unknown> = {};
    if (withContainers) {
      for (const e of this.d.repo.endpointsOf(n.id)) {
        const c = this.info.get(e.containerId);
        if (!c || !c.running || !e.ip) continue;
        const prefix = n.ipam.Config[0] ? parseCidr(n.ipam.Config[0].Subnet).bits : 0;
        containers[e.containerId] = { Name: c.name, EndpointID: e.endpointId, MacAddress: e.mac, IPv4Address: `${e.ip}/${prefix}`, IPv6Address: '' };
      }
    }
    return {
      Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv6: n.enableIPv6,
      IPAM: n.ipam, Internal: n.internal, Attachable: n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
      Containers: containers, Options: n.options, Labels: n.labels,
    };
  }

  list(filters: Filters): Array<Record<string, unknown>> {
    const f = filters.allowOnly('dangling', 'driver', 'id', 'label', 'name', 'scope', 'type');
    const dangling = f.get('dangling')[0];
    if (dangling !== undefined && !['true', 'false', '1', '0'].includes(dangling)) throw new InvalidParameter(`invalid filter 'dangling=${dangling}'`);
    for (const t of f.get('type')) if (t !== 'custom' && t !== 'builtin') throw new InvalidParameter(`invalid filter: 'type'='${t}'`);
    return this.d.repo.all().filter((n) =>
      f.any('driver', (v) => v === n.driver) &&
      f.any('id', (v) => n.id.startsWith(v)) &&
      f.any('name', (v) => n.name.includes(v)) &&
      f.any('scope', (v) => v === 'local') &&
      f.any('type', (v) => (v === 'builtin') === PREDEFINED.includes(n.name)) &&
      f.matchLabels(n.labels) &&
      (dangling === undefined || (dangling === 'true' || dangling === '1') === this.dangling(n)),
    ).map((n) => this.view(n, false));
  }

  private dangling(n: NetworkRow): boolean {
    return !PREDEFINED.includes(n.name) && this.d.repo.endpointsOf(n.id).length === 0;
  }

  inspect(ref: string): Record<string, unknown> {
    return this.view(this.find(ref), true);
  }

  // ---- create / remove ------------------------------------------------------------------

  create(req: NetworkCreateRequest): { Id: string; Warning: string } {
    const name = req.Name ?? '';
    if (!name) throw new InvalidParameter('network name cannot be empty');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw new InvalidParameter(`invalid network name "${name}", only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const driver = req.Driver || 'bridge';
    if (PREDEFINED.includes(name)) throw new Forbidden(`operation is not permitted on predefined ${name} network `);
    if (driver !== 'bridge') throw new NotFound(`could not find plugin ${driver} in v1 plugin registry: plugin not found`);
    const all = this.d.repo.all();
    if (all.some((n) => n.name === name)) throw new Conflict(`network with name ${name} already exists`);
    const taken = [...all.flatMap((n) => n.ipam.Config.map((c) => parseCidr(c.Subnet))), ...this.hostNets()];
    const config: IpamPool[] = [];
    for (const c of (req.IPAM?.Config ?? []).filter((x) => x.Subnet || x.Gateway || x.IPRange)) {
      if (!c.Subnet) throw new InvalidParameter('invalid pool request: subnet is required when a gateway or ip range is given');
      if (c.Subnet.includes(':')) throw new InvalidParameter('berth does not support IPv6 subnets yet');
      const subnet = parseCidr(c.Subnet);
      const clash = taken.find((t) => overlaps(t, subnet));
      if (clash) throw new Forbidden(`Pool overlaps with other one on this address space`);
      const pool: IpamPool = { Subnet: cidrText(subnet) };
      if (c.IPRange) {
        const r = parseCidr(c.IPRange);
        if (!contains(subnet, r.base)) throw new InvalidParameter(`invalid pool request: ip range ${c.IPRange} is not in subnet ${c.Subnet}`);
        pool.IPRange = cidrText(r);
      }
      const gw = c.Gateway ? ipToInt(c.Gateway) : subnet.base + 1;
      if (!contains(subnet, gw)) throw new InvalidParameter(`no matching subnet for gateway ${c.Gateway}`);
      pool.Gateway = intToIp(gw);
      if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length) pool.AuxiliaryAddresses = c.AuxiliaryAddresses;
      config.push(pool);
      taken.push(subnet);
    }
    if (config.length === 0) {
      const c = carveSubnet(this.pools(), taken);
      if (!c) throw new Forbidden('all predefined address pools have been fully subnetted');
      config.push({ Subnet: cidrText(c), Gateway: intToIp(c.base + 1) });
    }
    const id = newId();
    const options = req.Options ?? {};
    const row: NetworkRow = {
      id, name, driver, created: rfc3339Nano(), internal: !!req.Internal, attachable: !!req.Attachable, enableIPv6: !!req.EnableIPv6,
      ipam: { Driver: req.IPAM?.Driver || 'default', Options: req.IPAM?.Options ?? {}, Config: config },
      options, labels: req.Labels ?? {}, bridge: options['com.docker.network.bridge.name'] || `br-${id.slice(0, 12)}`,
    };
    this.d.repo.insert(row);
    this.d.events.emit('network', 'create', id, { name, type: driver });
    return { Id: id, Warning: '' };
  }

  async remove(ref: string): Promise<void> {
    const n = this.find(ref);
    if (PREDEFINED.includes(n.name)) throw new Forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    // only running containers hold endpoints (as in dockerd): a stopped one's start fails later
    const active = this.d.repo.endpointsOf(n.id).filter((e) => this.running.has(e.containerId));
    if (active.length) {
      const list = active.map((e) => `name:"${this.info.get(e.containerId)?.name ?? ''}" id:"${e.endpointId.slice(0, 12)}"`).join(', ');
      throw new Forbidden(`error while removing network: network ${n.name} has active endpoints (${list})`);
    }
    this.d.repo.delete(n.id);
    await this.teardownNetwork(n);
    this.d.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  private async teardownNetwork(n: NetworkRow): Promise<void> {
    const dns = this.dnsServers.get(n.id);
    if (dns) { this.dnsServers.delete(n.id); dns.close(); }
    this.ready.delete(n.id);
    if (n.bridge) await this.d.driver.removeBridge(n.bridge).catch((e) => this.d.log?.(`removing bridge ${n.bridge}: ${errorMessage(e)}`));
  }

  async prune(filters: Filters): Promise<{ NetworksDeleted: string[] | null }> {
    const f = filters.allowOnly('label', 'label!', 'until');
    const deleted: string[] = [];
    for (const n of this.d.repo.all()) {
      if (!this.dangling(n) || !f.matchLabels(n.labels)) continue;
      if (f.get('label!').some((l) => new Filters(new Map([['label', [l]]])).matchLabels(n.labels))) continue;
      const until = f.get('until')[0];
      if (until !== undefined && Date.parse(n.created) > parseUntil(until)) continue;
      await this.remove(n.id);
      deleted.push(n.name);
    }
    if (deleted.length) this.d.events.emit('network', 'prune', '', { reclaimed: '0' });
    return { NetworksDeleted: deleted.length ? deleted : null };
  }

  /** Tears down every bridge (daemon shutdown without live restore, or tests). */
  async close(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
    for (const dns of this.dnsServers.values()) dns.close();
    this.dnsServers.clear();
  }

  /** Removes every bridge (when no container runs any more: nothing is left behind). */
  async removeBridges(): Promise<void> {
    for (const n of this.d.repo.all()) if (n.bridge) await this.teardownNetwork(n);
  }

  // ---- connect / disconnect -------------------------------------------------------------

  async connect(ref: string, body: { Container?: string; EndpointConfig?: Record<string, any> | null }): Promise<void> {
    const n = this.find(ref);
    const c = this.container(body.Container ?? '');
    // dockerd's checks, in its order (its validation errors: 400)
    if (String(c.networkMode ?? '').startsWith('container:')) throw new InvalidParameter(SHARED_NETWORK);
    if (n.driver === 'host' && modeOf({ NetworkMode: c.networkMode }) !== 'host') throw new InvalidParameter('container cannot be disconnected from host network or connected to host network');
    if (this.d.repo.endpointsOf(n.id).some((e) => e.containerId === c.id)) {
      throw new Forbidden(`endpoint with name ${c.name} already exists in network ${n.name}`);
    }
    for (const x of this.d.repo.endpointsOfContainer(c.id).map((e) => this.byId(e.networkId))) {
      if (!x) continue;
      if (x.driver === 'host' || n.driver !== 'bridge' && n.driver !== 'null') throw new InvalidParameter(SHARED_NETWORK);
      if (x.driver === 'null' || n.driver === 'null') throw new InvalidParameter('container cannot be connected to multiple networks with one of the networks in private (none) mode');
    }
    this.record(n, c.id, body.EndpointConfig ?? null);
    if (!c.running || n.driver !== 'bridge') return; // none: nothing to wire
    const ip = await this.attachOne(c, n, this.d.repo.endpointsOfContainer(c.id).length - 1);
    this.ownHostsLine(c, ip, true);
  }

  /** As Docker, a live connect adds the container's own line for the new address to its /etc/hosts; a disconnect removes it. */
  private ownHostsLine(c: ContainerInfo, ip: string, add: boolean): void {
    try {
      updateHosts(c.hostsPath, selfEntry(ip, c.hostname, c.domainname), add);
    } catch (err) {
      this.d.log?.(`${add ? 'adding to' : 'removing from'} the hosts file of ${c.id.slice(0, 12)}: ${errorMessage(err)}`);
    }
  }

  async disconnect(ref: string, body: { Container?: string; Force?: boolean }): Promise<void> {
    const n = this.find(ref);
    const c = this.container(body.Container ?? '');
    const ep = this.d.repo.endpointsOf(n.id).find((e) => e.containerId === c.id);
    if (!ep) throw new Forbidden(`container ${c.id} is not connected to network ${n.name}`);
    const run = this.running.get(c.id);
    if (run && c.running) {
      const link = run.links.find((l) => l.startsWith(n.id + ':'));
      const gateway = () => run.links.map((l) => this.byId(l.split(':')[0]!)).find((x) => x && !x.internal);
      if (link) {
        const held = gateway()?.id === n.id;
        await this.d.driver.detach(link.slice(n.id.length + 1));
        run.links = run.links.filter((l) => l !== link);
        // as Docker, the default route moves to the next network that gives one
        const next = held ? gateway()?.ipam.Config[0]?.Gateway : undefined;
        if (next) await this.d.driver.defaultRoute(c.pid, next).catch((e) => this.d.log?.(`default route via ${next}: ${errorMessage(e)}`));
      }
      if (ep.ip) this.ownHostsLine(c, ep.ip, false);
      this.d.events.emit('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    }
    this.d.repo.removeEndpoint(n.id, c.id);
  }

  private container(ref: string): ContainerInfo {
    if (!this.lookupContainer) throw new NotFound(`No such container: ${ref}`);
    return this.lookupContainer(ref);
  }

  private byId(id: string): NetworkRow | undefined {
    return this.d.repo.get(id);
  }

  private record(n: NetworkRow, containerId: string, ec: Record<string, any> | null): void {
    const ipv4 = ec?.IPAMConfig?.IPv4Address as string | undefined;
    if (ipv4) {
      if (PREDEFINED.includes(n.name)) throw new InvalidParameter('user specified IP address is supported on user defined networks only');
      if (!n.ipam.Config.some((p) => contains(parseCidr(p.Subnet), ipToInt(ipv4)))) throw new InvalidParameter(`no configured subnet or ip-range contain the IP address ${ipv4}`);
    }
    const aliases = Array.isArray(ec?.Aliases) ? ec!.Aliases.map(String) : [];
    if (aliases.length && PREDEFINED.includes(n.name)) throw new InvalidParameter('network-scoped alias is supported only for containers in user defined networks');
    this.d.repo.addEndpoint({
      networkId: n.id, containerId, endpointId: newId(), ip: '', mac: ec?.MacAddress || '', aliases,
      ipamConfig: ec?.IPAMConfig ?? null,
    });
  }

  // ---- the container engine's hooks -----------------------------------------------------

  configure(requested: Json, config: Json, hostConfig: Json): void {
    const mode = modeOf(hostConfig);
    const bad = (what: string) => { throw new InvalidParameter(`conflicting options: ${what}`); };
    if (mode.startsWith('container:')) {
      if (requested.Hostname) bad('hostname and the network mode');
      if (hostConfig.Links?.length) bad("container type network can't be used with links. This would result in undefined behavior");
      if (hostConfig.Dns?.length) bad('dns and the network mode');
      if (hostConfig.ExtraHosts?.length) bad('custom host-to-IP mapping and the network mode');
      if (requested.MacAddress) bad('mac-address and the network mode');
      if (hostConfig.PublishAllPorts || Object.keys(hostConfig.PortBindings ?? {}).length) bad('port publishing and the container type network mode');
      if (Object.keys(requested.ExposedPorts ?? {}).length) bad('port exposing and the container type network mode');
      const target = this.container(mode.slice('container:'.length));
      config.Hostname = target.hostname;
      config.Domainname = target.domainname;
    } else if (mode === 'host') {
      if (hostConfig.Links?.length) bad("host type networking can't be used with links. This would result in undefined behavior");
      if (!requested.Hostname) config.Hostname = hostname();
    }
    for (const l of (hostConfig.Links ?? []) as string[]) {
      const name = String(l).split(':')[0]!.replace(/^\//, '');
      try { this.container(name); } catch { throw new InvalidParameter(`could not get container for ${name}`); }
    }
    extraHostEntries(hostConfig.ExtraHosts, '');
  }

  prepare(id: string, hostConfig: Json, networking: Json | undefined): void {
    const mode = modeOf(hostConfig);
    if (mode.startsWith('container:')) return;
    const name = mode === 'default' ? 'bridge' : mode;
    const n = this.find(name);
    const eps = (networking?.EndpointsConfig ?? {}) as Record<string, Json | null>;
    this.record(n, id, eps[mode] ?? eps[name] ?? eps[n.id] ?? null);
    for (const [key, ec] of Object.entries(eps)) {
      if (key === mode || key === name || key === n.id) continue;
      const other = this.find(key);
      if (other.driver !== 'bridge' || n.driver !== 'bridge') throw new InvalidParameter('Container cannot be connected to network endpoints');
      this.record(other, id, ec);
    }
  }

  sandbox(id: string, hostConfig: Json): Sandbox {
    const mode = modeOf(hostConfig);
    if (mode === 'host') return { netns: 'host' };
    // the none network has no resolver to relay to
    if (!mode.startsWith('container:')) return { netns: 'none', dnsRelay: mode === 'none' ? undefined : this.relayOf(id) };
    const ref = mode.slice('container:'.length);
    const t = this.container(ref);
    if (t.id === id) throw new InvalidParameter('cannot join own network');
    if (!t.running || !t.pid) throw new Conflict(`cannot join network of a non running container: ${ref}`);
    return { netns: `/proc/${t.pid}/ns/net`, hostsPath: t.hostsPath, resolvPath: t.resolvPath, hostnamePath: t.hostnamePath };
  }

  wiresNothing(hostConfig: Json): boolean {
    const mode = modeOf(hostConfig);
    return mode === 'host' || mode === 'none' || mode.startsWith('container:');
  }

  async start(c: ContainerInfo, hostConfig: Json, exposed: Json | undefined): Promise<void> {
    this.info.set(c.id, c);
    const mode = modeOf(hostConfig);
    if (mode.startsWith('container:')) return; // the joined container's namespace and files
    if (mode === 'host' || mode === 'none') {
      this.writeFiles(c, hostConfig, mode);
      return;
    }
    if (mode !== 'default' && !this.d.repo.endpointsOfContainer(c.id).length) {
      throw new NotFound(`failed to set up container networking: network ${mode} not found`);
    }
    const run: Running = { links: [], listeners: [] };
    this.running.set(c.id, run);
    try {
      let idx = 0;
      for (const e of this.d.repo.endpointsOfContainer(c.id)) {
        const n = this.byId(e.networkId);
        if (!n || n.driver !== 'bridge') continue;
        await this.attachOne(c, n, idx++);
      }
      await this.publish(c, hostConfig, exposed, run);
      this.writeFiles(c, hostConfig, mode);
    } catch (err) {
      await this.stop(c.id);
      throw err;
    }
  }

  async restore(c: ContainerInfo, hostConfig: Json, exposed: Json | undefined): Promise<void> {
    this.info.set(c.id, c);
    const mode = modeOf(hostConfig);
    if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return;
    const run: Running = { links: [], listeners: [] };
    this.running.set(c.id, run);
    for (const e of this.d.repo.endpointsOfContainer(c.id)) {
      const n = this.byId(e.networkId);
      if (!n || n.driver !== 'bridge' || !e.ip) continue;
      await this.ensureNetwork(n);
      run.links.push(`${n.id}:${vethName(`${n.id}:${c.id}`)}`);
    }
    if (this.relayOf(c.id)) {
      const overrides = { dns: hostConfig.Dns, search: hostConfig.DnsSearch, options: hostConfig.DnsOptions };
      this.upstreams.set(c.id, resolvText('internal', readHostResolv(), overrides).upstream);
    }
    await this.publish(c, hostConfig, exposed, run).catch((err) => this.d.log?.(`ports of ${c.id.slice(0, 12)} after restart: ${errorMessage(err)}`));
  }

  /** Published ports, to the address on the container's first network (none on an internal one). */
  private async publish(c: ContainerInfo, hostConfig: Json, exposed: Json | undefined, run: Running): Promise<void> {
    const first = this.d.repo.endpointsOfContainer(c.id).find((e) => e.ip);
    const n = first && this.byId(first.networkId);
    if (!first || !n || n.internal) return;
    for (const p of publishedPorts(hostConfig, exposed)) {
      run.listeners.push(await this.d.proxy.open(p, first.ip, `${c.name} (${first.endpointId})`));
    }
  }

  /** The bridge, its address and firewall rules: made once per network per daemon run. */
  private async ensureNetwork(n: NetworkRow): Promise<void> {
    if (this.ready.has(n.id)) return;
    const pool = n.ipam.Config[0]!;
    const subnet = parseCidr(pool.Subnet);
    const gw = pool.Gateway ?? intToIp(subnet.base + 1);
    await this.d.driver.ensureBridge(n.bridge, `${gw}/${subnet.bits}`, { subnet: cidrText(subnet), internal: n.internal });
    this.ready.add(n.id);
    if (n.name !== 'bridge' && this.d.dns && !this.dnsServers.has(n.id)) {
      try {
        this.dnsServers.set(n.id, await this.d.dns(gw, (q, from) => this.lookup(n.id, q, from)));
      } catch (err) {
        this.d.log?.(`embedded DNS on ${gw}: ${errorMessage(err)}`);
      }
    }
  }

  /** Address, link and DNS for one bridge network; returns the address. */
  private async attachOne(c: ContainerInfo, n: NetworkRow, idx: number): Promise<string> {
    const pool = n.ipam.Config[0]!;
    const subnet = parseCidr(pool.Subnet);
    const gw = pool.Gateway ?? intToIp(subnet.base + 1);
    const eps = this.d.repo.endpointsOf(n.id);
    const me = eps.find((e) => e.containerId === c.id)!;
    const used = new Set(eps.filter((e) => e.ip && e.containerId !== c.id && this.info.get(e.containerId)?.running).map((e) => ipToInt(e.ip)));
    used.add(ipToInt(gw));
    for (const a of Object.values(pool.AuxiliaryAddresses ?? {})) used.add(ipToInt(a));
    let ip: string;
    const asked = me.ipamConfig?.IPv4Address;
    if (asked) {
      if (used.has(ipToInt(asked))) throw new Forbidden(`Address already in use`);
      ip = asked;
    } else {
      const a = nextAddress(subnet, pool.IPRange ? parseCidr(pool.IPRange) : subnet, used);
      if (a === undefined) throw new Forbidden(`no available IPv4 addresses on this network's address pools: ${n.name} (${n.id})`);
      ip = intToIp(a);
    }
    const mac = me.mac || macFor(ip);
    this.d.repo.setAddress(n.id, c.id, ip, mac);
    await this.ensureNetwork(n);
    // as Docker: an internal network gives no gateway; the first other network attached does
    const run = this.running.get(c.id);
    const routed = !!run?.links.some((l) => this.byId(l.split(':')[0]!)?.internal === false);
    const host = await this.d.driver.attach({
      pid: c.pid, bridge: n.bridge, ifname: `eth${idx}`, address: `${ip}/${subnet.bits}`, gateway: gw, mac, defaultRoute: !n.internal && !routed,
    }, `${n.id}:${c.id}`);
    run?.links.push(`${n.id}:${host}`);
    this.d.events.emit('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    return ip;
  }

  /**
   * A query that reached a network's resolver from `from`: the names of every user network of
   * the container at that address, else its upstream servers (none when all its networks are
   * internal, as Docker).
   */
  private lookup(networkId: string, name: string, from: string): Lookup {
    // by its address on any network: the relay keeps asking the first network's resolver after
    // the container left that network, through its default route on another (subnets never overlap)
    const asker = this.d.repo.allEndpoints().find((e) => e.ip === from && this.info.get(e.containerId)?.running);
    if (!asker) return { ips: this.resolve(networkId, name), forward: [] };
    const nets = this.d.repo.endpointsOfContainer(asker.containerId).map((e) => this.byId(e.networkId))
      .filter((n): n is NetworkRow => !!n && n.driver === 'bridge' && n.name !== 'bridge');
    const ips = [...new Set(nets.flatMap((n) => this.resolve(n.id, name)))];
    const external = nets.some((n) => !n.internal);
    return { ips, forward: external ? this.upstreams.get(asker.containerId) ?? [] : [] };
  }

  /**
   * A name on a user network → the addresses of the running containers it names; as in Docker,
   * a name may also carry the network's name as its domain (`web.mynet`).
   */
  private resolve(networkId: string, name: string): string[] {
    const q = name.toLowerCase().replace(/\.$/, '');
    const suffix = `.${this.byId(networkId)?.name.toLowerCase()}`;
    const short = q.endsWith(suffix) && q.length > suffix.length ? q.slice(0, -suffix.length) : q;
    const out: string[] = [];
    for (const e of this.d.repo.endpointsOf(networkId)) {
      const c = this.info.get(e.containerId);
      if (!c || !c.running || !e.ip) continue;
      const names = [c.name, c.id.slice(0, 12), c.hostname, ...e.aliases].map((x) => x.toLowerCase());
      if (names.includes(q) || names.includes(short)) out.push(e.ip);
    }
    return out;
  }

  /** The resolver 127.0.0.11 relays to: the gateway of the container's first user network (none without one). */
  private relayOf(id: string): string | undefined {
    if (!this.d.dns) return undefined;
    for (const e of this.d.repo.endpointsOfContainer(id)) {
      const n = this.byId(e.networkId);
      if (n && n.driver === 'bridge' && n.name !== 'bridge') return n.ipam.Config[0]?.Gateway;
    }
    return undefined;
  }

  /** The default bridge's gateway: where `host-gateway` points. */
  private hostGateway(): string {
    const b = this.d.repo.all().find((n) => n.name === 'bridge');
    return b?.ipam.Config[0]?.Gateway ?? '';
  }

  /**
   * /etc/hosts and /etc/resolv.conf for the mode the container runs in. Synchronous: two small
   * files, where each thread-pool round trip (open, write, close) costs more than the writes, on
   * every start's critical path. A file that already says what it should is left as it is (none
   * and host have theirs written at create: filesAtCreate), so a start writes nothing then.
   */
  private writeFiles(c: ContainerInfo, hostConfig: Json, mode: string): void {
    const f = this.filesText(c, hostConfig, mode);
    if (f.upstream) this.upstreams.set(c.id, f.upstream);
    writeIfChanged(c.hostsPath, f.hosts);
    writeIfChanged(c.resolvPath, f.resolv);
  }

  /**
   * The files of a container whose network mode fixes them at create (none, host): what its
   * first start would write, so that start finds them done. Undefined for the other modes,
   * whose files wait for the addresses a start assigns.
   */
  filesAtCreate(c: ContainerInfo, hostConfig: Json): { hosts: string; resolv: string } | undefined {
    const mode = modeOf(hostConfig);
    if (mode !== 'none' && mode !== 'host') return undefined;
    return this.filesText(c, hostConfig, mode);
  }

  private filesText(c: ContainerInfo, hostConfig: Json, mode: string): { hosts: string; resolv: string; upstream?: string[] } {
    const extra = extraHostEntries(hostConfig.ExtraHosts, this.hostGateway());
    const overrides = { dns: hostConfig.Dns, search: hostConfig.DnsSearch, options: hostConfig.DnsOptions };
    const host = readHostResolv();
    if (mode === 'host') {
      let hosts = '';
      try { hosts = readFileSync('/etc/hosts', 'utf8'); } catch { /* none on the host */ }
      const added = extra.map((e) => `${e.ip}\t${e.names}\n`).join('');
      return { hosts: hosts.replace(/\n?$/, hosts ? '\n' : '') + added, resolv: resolvText('host', host, overrides).text };
    }
    // none never has an address (nor links): no endpoint to read
    const eps = mode === 'none' ? [] : this.d.repo.endpointsOfContainer(c.id).filter((e) => e.ip);
    const links = mode === 'default' || mode === 'bridge' ? this.linkEntries(c, hostConfig) : [];
    const self = eps.map((e) => selfEntry(e.ip, c.hostname, c.domainname));
    const r = resolvText(mode !== 'none' && this.relayOf(c.id) ? 'internal' : 'legacy', host, overrides);
    return { hosts: hostsText([...extra, ...links, ...self]), resolv: r.text, upstream: r.upstream };
  }

  /** --link on the default bridge: `IP\talias ID name` for each running linked container. */
  private linkEntries(c: ContainerInfo, hostConfig: Json): HostsEntry[] {
    const bridge = this.d.repo.all().find((n) => n.name === 'bridge');
    const out: HostsEntry[] = [];
    for (const l of (hostConfig.Links ?? []) as string[]) {
      const [ref, aliasPath] = String(l).split(':') as [string, string | undefined];
      const name = ref.replace(/^\//, '');
      const alias = (aliasPath ?? name).split('/').pop()!;
      const t = this.container(name);
      const ep = bridge && this.d.repo.endpointsOf(bridge.id).find((e) => e.containerId === t.id);
      if (!t.running || !ep?.ip) throw new InvalidParameter(`Cannot link to a non running container: /${name} AS /${c.name}/${alias}`);
      const names = [alias, t.id.slice(0, 12), t.name].filter((x, i, a) => a.indexOf(x) === i);
      out.push({ ip: ep.ip, names: names.join(' ') });
    }
    return out;
  }

  async stop(id: string): Promise<void> {
    const run = this.running.get(id);
    this.running.delete(id);
    this.upstreams.delete(id);
    const c = this.info.get(id);
    if (c) this.info.set(id, { ...c, running: false });
    if (!run) return;
    for (const l of run.listeners) l.close();
    for (const link of run.links) {
      const [networkId, host] = link.split(':') as [string, string];
      await this.d.driver.detach(host).catch((e) => this.d.log?.(`removing ${host}: ${errorMessage(e)}`));
      const n = this.byId(networkId);
      if (n) this.d.events.emit('network', 'disconnect', n.id, { container: id, name: n.name, type: n.driver });
    }
    for (const e of this.d.repo.endpointsOfContainer(id)) {
      const ip = e.ipamConfig?.IPv4Address ? e.ip : '';
      const mac = e.ipamConfig?.MacAddress ?? (e.mac && !e.ipamConfig ? '' : e.mac);
      // a commit only for a change (none's endpoint, which never had an address, has none)
      if (ip !== e.ip || mac !== e.mac) this.d.repo.setAddress(e.networkId, id, ip, mac);
    }
  }

  private portMap(id: string, exposed: Json | undefined): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
    const run = this.running.get(id);
    const ports: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
    if (!run) return ports;
    for (const k of Object.keys(exposed ?? {})) ports[k.includes('/') ? k : `${k}/tcp`] = null;
    for (const l of run.listeners) {
      const key = `${l.published.containerPort}/${l.published.proto}`;
      (ports[key] ??= []).push({ HostIp: l.published.hostIp, HostPort: String(l.published.hostPort) });
    }
    return ports;
  }

  private networksOf(id: string, endpoints = this.d.repo.endpointsOfContainer(id),
    network: (id: string) => NetworkRow | undefined = (nid) => this.byId(nid)): { networks: Json; primary: Json | undefined } {
    const run = this.running.get(id);
    const networks: Json = {};
    let primary: Json | undefined;
    for (const e of endpoints) {
      const n = network(e.networkId);
      if (!n) continue;
      const pool = n.ipam.Config[0];
      const live = !!run && !!e.ip;
      const c = this.info.get(id);
      const userNet = n.driver === 'bridge' && n.name !== 'bridge';
      const v = {
        IPAMConfig: e.ipamConfig, Links: null, Aliases: e.aliases.length ? e.aliases : null, MacAddress: live ? e.mac : '',
        DriverOpts: null, NetworkID: n.id, EndpointID: live ? e.endpointId : '', Gateway: live && pool && !n.internal ? pool.Gateway : '',
        IPAddress: live ? e.ip : '', IPPrefixLen: live && pool ? parseCidr(pool.Subnet).bits : 0, IPv6Gateway: '',
        GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
        DNSNames: userNet && c ? [c.name, ...e.aliases, id.slice(0, 12)].filter((x, i, a) => a.indexOf(x) === i) : null,
      };
      networks[n.name] = v;
      primary ??= v;
      if (n.name === 'bridge') primary = v;
    }
    return { networks, primary };
  }

  settings(id: string, hostConfig: Json, exposed: Json | undefined): Json {
    const run = this.running.get(id);
    const { networks, primary } = this.networksOf(id);
    const legacy = primary && primary === networks.bridge;
    return {
      Bridge: '', SandboxID: run ? id : '', SandboxKey: run && this.info.get(id) ? `/proc/${this.info.get(id)!.pid}/ns/net` : '',
      HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0,
      Ports: this.portMap(id, exposed), SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
      EndpointID: legacy ? primary.EndpointID : '', Gateway: legacy ? primary.Gateway : '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
      IPAddress: legacy ? primary.IPAddress : '', IPPrefixLen: legacy ? primary.IPPrefixLen : 0, IPv6Gateway: '', MacAddress: legacy ? primary.MacAddress : '',
      Networks: networks,
    };
  }

  summaries(): (id: string, hostConfig: Json, exposed: Json | undefined) => { Ports: Json[]; Networks: Json } {
    const nets = new Map(this.d.repo.all().map((n) => [n.id, n]));
    const endpoints = new Map<string, EndpointRow[]>();
    for (const e of this.d.repo.allEndpoints()) {
      const l = endpoints.get(e.containerId);
      if (l) l.push(e); else endpoints.set(e.containerId, [e]);
    }
    return (id, _hostConfig, exposed) => {
      const out: Json[] = [];
      for (const [key, bindings] of Object.entries(this.portMap(id, exposed))) {
        const [port, type] = key.split('/') as [string, string];
        if (!bindings) out.push({ PrivatePort: Number(port), Type: type });
        else for (const b of bindings) out.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
      }
      return { Ports: out, Networks: this.networksOf(id, endpoints.get(id) ?? [], (nid) => nets.get(nid)).networks };
    };
  }

  matches(filter: 'network' | 'publish' | 'expose', value: string, id: string, hostConfig: Json, exposed: Json | undefined): boolean {
    if (filter === 'network') {
      return this.d.repo.endpointsOfContainer(id).some((e) => {
        const n = this.byId(e.networkId);
        return !!n && (n.name === value || n.id.startsWith(value));
      });
    }
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(value);
    if (!m) throw new InvalidParameter(`invalid filter '${filter}=${value}'`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    const proto = m[3] ?? 'tcp';
    const keys = filter === 'expose'
      ? Object.keys(exposed ?? {})
      : publishedPorts(hostConfig, exposed).map((p) => `${p.containerPort}/${p.proto}`);
    return keys.some((k) => {
      const [port, pr = 'tcp'] = k.split('/') as [string, string];
      return pr === proto && Number(port) >= lo && Number(port) <= hi;
    });
  }
}

const modeOf = (hostConfig: Json): string => String(hostConfig.NetworkMode || 'default');

const SHARED_NETWORK = 'container sharing network namespace with another container or host cannot be connected to any other network';

/** PortBindings and -P (PublishAllPorts) as the bindings to open; HostPort '' = ephemeral. */
export function publishedPorts(hostConfig: Record<string, any>, exposed: Record<string, unknown> | undefined): Published[] {
  const out: Published[] = [];
  const bindings = (hostConfig.PortBindings ?? {}) as Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;
  const keys = new Set(Object.keys(bindings));
  if (hostConfig.PublishAllPorts) for (const k of Object.keys(exposed ?? {})) keys.add(k);
  for (const key of keys) {
    const [port, proto = 'tcp'] = key.split('/') as [string, string];
    if (proto !== 'tcp' && proto !== 'udp') throw new InvalidParameter(`invalid proto '${proto}'`);
    const list = bindings[key]?.length ? bindings[key]! : [{ HostIp: '', HostPort: '' }];
    for (const b of list) {
      const hostPort = b.HostPort ? Number(b.HostPort) : 0;
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw new InvalidParameter(`invalid port specification: "${b.HostPort}"`);
      out.push({ proto, containerPort: Number(port), hostIp: b.HostIp || '0.0.0.0', hostPort });
    }
  }
  return out;
}

function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(v);
  if (m) return Date.now() - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3 }[m[2] as 's'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidParameter(`invalid filter 'until=${v}'`);
  return t;
}
