// IPv4 address management: CIDR arithmetic, subnets carved from address pools, and host
// addresses handed out inside a subnet (network, gateway and broadcast never given out).
import { InvalidParameter } from '../../errors';
import type { AddressPool } from '../../config';

export interface Cidr { base: number; bits: number }

export function ipToInt(ip: string): number {
  const p = ip.split('.');
  if (p.length !== 4 || p.some((x) => !/^\d{1,3}$/.test(x) || Number(x) > 255)) throw new InvalidParameter(`invalid IP address: ${ip}`);
  return p.reduce((n, x) => n * 256 + Number(x), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

const maskOf = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

/** `a.b.c.d/n`; with `strict`, host bits must be zero (a subnet, not an address in one). */
export function parseCidr(s: string): Cidr & { addr: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) > 32) throw new InvalidParameter(`invalid CIDR address: ${s}`);
  const addr = ipToInt(m[1]!);
  const bits = Number(m[2]);
  return { base: (addr & maskOf(bits)) >>> 0, bits, addr };
}

export const cidrText = (c: Cidr) => `${intToIp(c.base)}/${c.bits}`;
export const size = (c: Cidr) => 2 ** (32 - c.bits);
export const contains = (c: Cidr, ip: number) => ip >= c.base && ip < c.base + size(c);
export const overlaps = (a: Cidr, b: Cidr) => a.base < b.base + size(b) && b.base < a.base + size(a);

/** dockerd's defaults: 172.17.0.0/16 for the default bridge, then /16s of 172.17-31 and /20s of 192.168. */
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 }, { base: '172.18.0.0/16', size: 16 }, { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 }, { base: '172.24.0.0/14', size: 16 }, { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

/** The first subnet of the pools that overlaps none of `taken`; undefined when all are used. */
export function carveSubnet(pools: AddressPool[], taken: Cidr[]): Cidr | undefined {
  for (const p of pools) {
    const pool = parseCidr(p.base);
    const bits = Math.max(p.size, pool.bits);
    const step = 2 ** (32 - bits);
    for (let base = pool.base; base < pool.base + size(pool); base += step) {
      const c = { base, bits };
      if (!taken.some((t) => overlaps(t, c))) return c;
    }
  }
  return undefined;
}

/** The lowest free host address of `range` inside `subnet` (network, broadcast and `used` excluded). */
export function nextAddress(subnet: Cidr, range: Cidr, used: Set<number>): number | undefined {
  const first = Math.max(subnet.base + 1, range.base);
  const last = Math.min(subnet.base + size(subnet) - 2, range.base + size(range) - 1);
  for (let ip = first; ip <= last; ip++) if (!used.has(ip)) return ip;
  return undefined;
}

/** Docker's MAC for an address: 02:42 and the four address bytes. */
export function macFor(ip: string): string {
  return ['02', '42', ...ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0'))].join(':');
}
