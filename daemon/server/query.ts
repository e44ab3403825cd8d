// Docker-style input, tolerant the way moby's httputils/form are: booleans, integers and filters.
import { InvalidParameter } from '../errors';
import { Filters } from '../backend/filters';

export { Filters };

export type Query = Record<string, string | string[] | undefined>;

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** `1/true/True/yes` are true; absent, `""`, `0`, `no`, `false`, `none` are false (moby form.BoolValue). */
export function bool(q: Query, key: string, dflt = false): boolean {
  const v = first(q[key]);
  if (v === undefined) return dflt;
  const s = v.trim().toLowerCase();
  return !(s === '' || s === '0' || s === 'no' || s === 'false' || s === 'none');
}

/** Integer parameter; absent or empty gives `dflt`, garbage is a 400 as in moby. */
export function int(q: Query, key: string, dflt: number): number;
export function int(q: Query, key: string, dflt?: undefined): number | undefined;
export function int(q: Query, key: string, dflt?: number): number | undefined {
  const v = first(q[key]);
  if (v === undefined || v === '') return dflt;
  if (!/^-?\d+$/.test(v.trim())) throw new InvalidParameter(`invalid value for ${key}: ${JSON.stringify(v)}`);
  return Number(v);
}

export function str(q: Query, key: string): string | undefined {
  return first(q[key]);
}

export function strs(q: Query, key: string): string[] {
  const v = q[key];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export function filters(q: Query): Filters {
  return Filters.parse(str(q, 'filters'));
}
