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
