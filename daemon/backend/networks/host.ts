// The host's own IPv4 networks, which no carved subnet may overlap.
import { networkInterfaces } from 'node:os';
import { parseCidr, type Cidr } from './ipam';

export function hostNetworks(): Cidr[] {
  const out: Cidr[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && a.cidr && !a.internal) out.push(parseCidr(a.cidr));
  }
  return out;
}
