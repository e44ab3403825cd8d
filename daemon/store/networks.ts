// The networks table (one row per network, the predefined bridge/host/none included) and
// endpoints (a container's attachment to a network; its address while it runs).
import type { DB } from './db';

export interface IpamPool { Subnet: string; Gateway?: string; IPRange?: string; AuxiliaryAddresses?: Record<string, string> }

export interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  /** RFC 3339 nano */
  created: string;
  internal: boolean;
  attachable: boolean;
  enableIPv6: boolean;
  ipam: { Driver: string; Options: Record<string, string> | null; Config: IpamPool[] };
  options: Record<string, string>;
  labels: Record<string, string>;
  /** The Linux bridge of a bridge network; '' for host and none. */
  bridge: string;
}

export interface EndpointRow {
  networkId: string;
  containerId: string;
  endpointId: string;
  /** The IPv4 address while the container runs (or the one asked for with --ip); '' otherwise. */
  ip: string;
  mac: string;
  aliases: string[];
  /** IPAMConfig as the client sent it (IPv4Address ...) */
  ipamConfig: Record<string, string> | null;
}

interface RawNetwork {
  id: string; name: string; driver: string; created: string; internal: number; attachable: number;
  enable_ipv6: number; ipam: string; options: string; labels: string; bridge: string;
}
interface RawEndpoint { network_id: string; container_id: string; endpoint_id: string; ip: string; mac: string; aliases: string; ipam_config: string }

const fromRaw = (r: RawNetwork): NetworkRow => ({
  id: r.id, name: r.name, driver: r.driver, created: r.created, internal: r.internal !== 0, attachable: r.attachable !== 0,
  enableIPv6: r.enable_ipv6 !== 0, ipam: JSON.parse(r.ipam), options: JSON.parse(r.options), labels: JSON.parse(r.labels), bridge: r.bridge,
});
const endpointFromRaw = (r: RawEndpoint): EndpointRow => ({
  networkId: r.network_id, containerId: r.container_id, endpointId: r.endpoint_id, ip: r.ip, mac: r.mac,
  aliases: JSON.parse(r.aliases), ipamConfig: JSON.parse(r.ipam_config),
});

export class NetworksRepo {
  private readonly insertStmt;
  private readonly allStmt;
  private readonly getStmt;
  private readonly deleteStmt;
  private readonly epInsertStmt;
  private readonly epDeleteStmt;
  private readonly epDeleteNetworkStmt;
  private readonly epOfNetworkStmt;
  private readonly epOfContainerStmt;
  private readonly epAllStmt;
  private readonly epSetIpStmt;
  /**
   * The networks as last read outside a transaction (a few rows, read on every container start):
   * dropped at each insert and delete, bypassed inside a transaction (which may roll back).
   */
  private cached: NetworkRow[] | undefined;

  constructor(private readonly db: DB) {
    this.insertStmt = db.prepare(`INSERT INTO networks (id, name, driver, created, internal, attachable, enable_ipv6, ipam, options, labels, bridge)
      VALUES (@id, @name, @driver, @created, @internal, @attachable, @enable_ipv6, @ipam, @options, @labels, @bridge)`);
    this.allStmt = db.prepare<[], RawNetwork>('SELECT * FROM networks ORDER BY created');
    this.getStmt = db.prepare<[string], RawNetwork>('SELECT * FROM networks WHERE id = ?');
    this.deleteStmt = db.prepare('DELETE FROM networks WHERE id = ?');
    this.epInsertStmt = db.prepare(`INSERT INTO endpoints (network_id, container_id, endpoint_id, ip, mac, aliases, ipam_config)
      VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.epDeleteStmt = db.prepare('DELETE FROM endpoints WHERE network_id = ? AND container_id = ?');
    this.epDeleteNetworkStmt = db.prepare('DELETE FROM endpoints WHERE network_id = ?');
    this.epOfNetworkStmt = db.prepare<[string], RawEndpoint>('SELECT * FROM endpoints WHERE network_id = ? ORDER BY rowid');
    this.epOfContainerStmt = db.prepare<[string], RawEndpoint>('SELECT * FROM endpoints WHERE container_id = ? ORDER BY rowid');
    this.epAllStmt = db.prepare<[], RawEndpoint>('SELECT * FROM endpoints');
    this.epSetIpStmt = db.prepare('UPDATE endpoints SET ip = ?, mac = ? WHERE network_id = ? AND container_id = ?');
  }

  insert(n: NetworkRow): void {
    this.cached = undefined;
    this.insertStmt.run({
      id: n.id, name: n.name, driver: n.driver, created: n.created, internal: n.internal ? 1 : 0, attachable: n.attachable ? 1 : 0,
      enable_ipv6: n.enableIPv6 ? 1 : 0, ipam: JSON.stringify(n.ipam), options: JSON.stringify(n.options),
      labels: JSON.stringify(n.labels), bridge: n.bridge,
    });
  }

  /** Rows are shared with later callers: treat them as values (nothing assigns to a network row). */
  all(): NetworkRow[] {
    if (this.db.inTransaction) return this.allStmt.all().map(fromRaw);
    this.cached ??= this.allStmt.all().map(fromRaw);
    return [...this.cached];
  }

  get(id: string): NetworkRow | undefined {
    if (!this.db.inTransaction) return this.all().find((n) => n.id === id);
    const r = this.getStmt.get(id);
    return r && fromRaw(r);
  }

  /** The network and the endpoints stopped containers still had on it, together. */
  delete(id: string): void {
    this.cached = undefined;
    this.db.transaction(() => {
      this.epDeleteNetworkStmt.run(id);
      this.deleteStmt.run(id);
    })();
  }

  addEndpoint(e: EndpointRow): void {
    this.epInsertStmt.run(e.networkId, e.containerId, e.endpointId, e.ip, e.mac, JSON.stringify(e.aliases), JSON.stringify(e.ipamConfig));
  }

  removeEndpoint(networkId: string, containerId: string): void {
    this.epDeleteStmt.run(networkId, containerId);
  }

  setAddress(networkId: string, containerId: string, ip: string, mac: string): void {
    this.epSetIpStmt.run(ip, mac, networkId, containerId);
  }

  endpointsOf(networkId: string): EndpointRow[] {
    return this.epOfNetworkStmt.all(networkId).map(endpointFromRaw);
  }

  endpointsOfContainer(containerId: string): EndpointRow[] {
    return this.epOfContainerStmt.all(containerId).map(endpointFromRaw);
  }

  allEndpoints(): EndpointRow[] {
    return this.epAllStmt.all().map(endpointFromRaw);
  }
}
