// Docker's `filters` query parameter, parsed once and matched by the engine.
import { InvalidParameter } from '../errors';

/** Parsed `filters`: key → values. Accepts `{"k":["v"]}` and the legacy `{"k":{"v":true}}`. */
export class Filters {
  constructor(private readonly map: ReadonlyMap<string, readonly string[]> = new Map()) {}

  static parse(raw: string | undefined): Filters {
    if (raw === undefined || raw.trim() === '') return new Filters();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (err) {
      throw new InvalidParameter(`invalid filter: ${(err as Error).message}`);
    }
    if (parsed === null) return new Filters();
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidParameter('invalid filter: filters must be a JSON object');
    const map = new Map<string, string[]>();
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
      if (Array.isArray(v)) map.set(k, v.map(String));
      else if (v && typeof v === 'object') map.set(k, Object.entries(v).filter(([, on]) => on === true).map(([name]) => name));
      else throw new InvalidParameter(`invalid filter: value of '${k}' must be a list or a map`);
    }
    return new Filters(map);
  }

  keys(): string[] { return [...this.map.keys()]; }
  has(key: string): boolean { return this.map.has(key); }
  get(key: string): readonly string[] { return this.map.get(key) ?? []; }

  /** Rejects keys the route does not know, with Docker's wording. */
  allowOnly(...known: string[]): this {
    for (const k of this.map.keys()) if (!known.includes(k)) throw new InvalidParameter(`invalid filter '${k}'`);
    return this;
  }

  /** True if the filter is absent or one of its values satisfies `pred`. */
  any(key: string, pred: (v: string) => boolean): boolean {
    const vs = this.map.get(key);
    return vs === undefined || vs.length === 0 || vs.some(pred);
  }

  /** Docker's `label` filter: every `k` or `k=v` must match. */
  matchLabels(labels: Record<string, string> | null | undefined, key = 'label'): boolean {
    for (const want of this.get(key)) {
      const eq = want.indexOf('=');
      const name = eq < 0 ? want : want.slice(0, eq);
      if (!labels || !(name in labels)) return false;
      if (eq >= 0 && labels[name] !== want.slice(eq + 1)) return false;
    }
    return true;
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration (`90s`, `1h30m`, `500ms`, `0`) in nanoseconds; undefined when it is not one. */
export function parseGoDuration(v: string): number | undefined {
  if (v === '0') return 0;
  let rest = v;
  let total = 0;
  if (rest === '') return undefined;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return total;
}

/**
 * An `until`/`since` value as Docker's timestamp.GetTimestamp reads it: Unix seconds
 * (fractions allowed), a Go duration back from `now`, or an RFC 3339 / date string.
 * Returns Unix seconds; undefined when it is none of these.
 */
export function parseTimestamp(v: string, now = Date.now()): number | undefined {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const ns = parseGoDuration(v);
  if (ns !== undefined) return now / 1000 - ns / 1e9;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}
