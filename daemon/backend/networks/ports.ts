// Published ports as a userland proxy in berthd (dockerd's docker-proxy, in process): a
// listener on the host address and port for each binding, each connection piped to the
// container's address. It needs no iptables rules, so it leaves nothing in the host's
// firewall behind, and it serves the host's loopback (DNAT to a bridge does not, without
// route_localnet).
import { createServer, connect, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { SystemError } from '../../errors';

export interface PortBinding { HostIp: string; HostPort: string }
export interface Published { proto: 'tcp' | 'udp'; containerPort: number; hostIp: string; hostPort: number }

/** A listening binding; close() stops it. */
export interface Listener { published: Published; close(): void }

export interface PortProxy {
  /** Binds host ip:port (port 0: ephemeral) and forwards to target ip:port; `endpoint` is `name (endpoint id)` for the error when taken. */
  open(p: Published, targetIp: string, endpoint: string): Promise<Listener>;
}

/** dockerd 28's words when the host port cannot be bound (a 500, as there). */
const inUse = (p: Published, target: string, endpoint: string, code: string) => new SystemError(
  `failed to set up container networking: driver failed programming external connectivity on endpoint ${endpoint}: ` +
  `failed to bind host port for ${p.hostIp}:${p.hostPort}:${target}:${p.containerPort}/${p.proto}: ${code === 'EADDRINUSE' ? 'address already in use' : code}`);

export const userlandProxy: PortProxy = {
  async open(p, targetIp, endpoint) {
    if (p.proto === 'udp') return openUdp(p, targetIp, endpoint);
    const server: Server = createServer((client) => {
      const upstream = connect({ host: targetIp, port: p.containerPort });
      client.pipe(upstream).pipe(client);
      const end = () => { client.destroy(); upstream.destroy(); };
      client.on('error', end);
      upstream.on('error', end);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(inUse(p, targetIp, endpoint, e.code ?? e.message)));
      server.listen({ host: p.hostIp, port: p.hostPort, exclusive: true }, () => resolve());
    });
    const addr = server.address();
    const published = { ...p, hostPort: typeof addr === 'object' && addr ? addr.port : p.hostPort };
    return { published, close: () => server.close() };
  },
};

/** UDP: one upstream socket per client address, forgotten after a minute of silence. */
async function openUdp(p: Published, targetIp: string, endpoint: string): Promise<Listener> {
  const sock = createSocket('udp4');
  const flows = new Map<string, { up: Socket; timer: NodeJS.Timeout }>();
  sock.on('message', (msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(key);
    if (!f) {
      const up = createSocket('udp4');
      up.on('message', (reply) => sock.send(reply, rinfo.port, rinfo.address));
      up.on('error', () => undefined);
      f = { up, timer: setTimeout(() => undefined, 0) };
      flows.set(key, f);
    }
    clearTimeout(f.timer);
    const flow = f;
    flow.timer = setTimeout(() => { flow.up.close(); flows.delete(key); }, 60_000).unref();
    flow.up.send(msg, p.containerPort, targetIp);
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', (e: NodeJS.ErrnoException) => reject(inUse(p, targetIp, endpoint, e.code ?? e.message)));
    sock.bind({ address: p.hostIp, port: p.hostPort, exclusive: true }, () => resolve());
  });
  const published = { ...p, hostPort: sock.address().port };
  return {
    published,
    close: () => {
      for (const f of flows.values()) { clearTimeout(f.timer); f.up.close(); }
      flows.clear();
      sock.close();
    },
  };
}
