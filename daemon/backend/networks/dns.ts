// The embedded DNS of user networks: A records for the running containers' names, aliases
// and short IDs on the asking container's networks; other names are forwarded to the
// asking container's upstream servers (its --dns, or the host's), refused when it has none.
// Served on each user network's gateway address, port 53, in the host's namespace; the
// container's 127.0.0.11 (resolv.conf) is a relay in its monitor that asks from the
// container's own address, so the answer knows who asked.
import { createSocket } from 'node:dgram';

/** What a name means to the container at `from`: its addresses, or where to ask instead. */
export interface Lookup { ips: string[]; forward: string[] }
export type DnsTable = (name: string, from: string) => Lookup;
export interface DnsServer { close(): void }

/** Seconds an upstream server gets before the next is asked. */
const FORWARD_TIMEOUT_MS = 2000;

/** Relays a query to the servers in turn (port 53); undefined when none answered. */
function forward(msg: Buffer, servers: string[]): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = (reply: Buffer | undefined) => {
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve(reply);
    };
    const next = () => {
      const server = servers[i++];
      if (!server) return done(undefined);
      sock.send(msg, 53, server, (err) => { if (err) next(); });
      timer = setTimeout(next, FORWARD_TIMEOUT_MS);
    };
    sock.on('message', (reply) => { if (reply.length >= 12 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(reply); });
    sock.on('error', () => done(undefined));
    next();
  });
}

/** SERVFAIL for a query none of the upstream servers answered. */
function servfail(msg: Buffer): Buffer | undefined {
  const q = parseQuestion(msg);
  if (!q) return undefined;
  const head = Buffer.from(msg.subarray(0, q.end));
  head.writeUInt16BE(0x8000 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | 2, 2);
  head.writeUInt16BE(1, 4);
  head.fill(0, 6, 12);
  return head;
}

/** The question of a query: name, type and where the question section ends. */
export function parseQuestion(msg: Buffer): { name: string; qtype: number; end: number } | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  while (off < msg.length) {
    const len = msg[off]!;
    if (len === 0) { off++; break; }
    if (len > 63 || off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return undefined;
  return { name: labels.join('.'), qtype: msg.readUInt16BE(off), end: off + 4 };
}

/** The answer to one query: A records, NOERROR without records (AAAA), or REFUSED / NXDOMAIN. */
export function answer(msg: Buffer, ips: string[]): Buffer | undefined {
  const q = parseQuestion(msg);
  if (!q) return undefined;
  const head = Buffer.from(msg.subarray(0, q.end));
  head.writeUInt16BE(1, 4); // one question
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  const flags = 0x8000 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | 0x0400; // QR, RD copied, RA, AA
  if (ips.length === 0) {
    head.writeUInt16BE(flags | (q.name.includes('.') ? 5 : 3), 2); // REFUSED for outside names, NXDOMAIN for short ones
    head.writeUInt16BE(0, 6);
    return head;
  }
  const records = q.qtype === 1 || q.qtype === 255 ? ips : [];
  head.writeUInt16BE(flags, 2);
  head.writeUInt16BE(records.length, 6);
  const rr = records.map((ip) => {
    const b = Buffer.alloc(16);
    b.writeUInt16BE(0xc00c, 0); // the name of the question
    b.writeUInt16BE(1, 2);
    b.writeUInt16BE(1, 4);
    b.writeUInt32BE(600, 6);
    b.writeUInt16BE(4, 10);
    ip.split('.').forEach((x, i) => { b[12 + i] = Number(x); });
    return b;
  });
  return Buffer.concat([head, ...rr]);
}

export async function serveDns(address: string, table: DnsTable, port = 53): Promise<DnsServer> {
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const q = parseQuestion(msg);
    if (!q) return;
    const found = table(q.name, rinfo.address);
    const send = (reply: Buffer | undefined) => { if (reply) sock.send(reply, rinfo.port, rinfo.address); };
    if (found.ips.length || !found.forward.length || !q.name.includes('.')) return send(answer(msg, found.ips));
    void forward(msg, found.forward).then((reply) => send(reply ?? servfail(msg)));
  });
  sock.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port, exclusive: true }, () => resolve());
  });
  return { close: () => sock.close() };
}
