// GET /events: past events since `since`, then live ones until `until` (or forever).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Backend } from '../../backend/types';
import type { EngineEvent } from '../../backend/events';
import type { Filters } from '../../backend/filters';
import { InvalidParameter } from '../../errors';
import { filters, str, type Query } from '../query';
import { beginStream } from '../streams';

/** Docker's event time parameters: Unix seconds with an optional fraction, or RFC 3339. */
function timeNano(v: string | undefined, now: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1e9);
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    const m = /^(\d+)(ns|us|ms|s|m|h)$/.exec(v); // a Go duration: that long ago
    if (!m) throw new InvalidParameter(`invalid value for time: ${v}`);
    const unit = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 }[m[2] as 'ns'];
    return now - Number(m[1]) * unit;
  }
  return t * 1e6;
}

function matches(f: Filters, e: EngineEvent): boolean {
  const attrs = e.Actor.Attributes;
  return f.any('type', (v) => v === e.Type) &&
    f.any('event', (v) => v === e.Action || e.Action.startsWith(v + ':')) &&
    f.any('container', (v) => e.Type === 'container' && (e.Actor.ID.startsWith(v) || attrs.name === v)) &&
    f.any('image', (v) => (e.Type === 'image' && (e.Actor.ID === v || attrs.name === v)) || attrs.image === v) &&
    f.any('volume', (v) => e.Type === 'volume' && e.Actor.ID === v) &&
    f.any('network', (v) => e.Type === 'network' && (e.Actor.ID.startsWith(v) || attrs.name === v)) &&
    f.any('scope', (v) => v === e.scope) &&
    f.matchLabels(attrs);
}

export function eventRoutes(app: FastifyInstance, backend: Backend): void {
  app.get('/events', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    const f = filters(req.query).allowOnly('type', 'event', 'container', 'image', 'volume', 'network', 'label', 'scope', 'daemon', 'plugin', 'node', 'service', 'secret', 'config');
    const now = Date.now() * 1e6;
    const since = timeNano(str(req.query, 'since'), now);
    const until = timeNano(str(req.query, 'until'), now);
    const res = beginStream(reply, 'application/json');
    const send = (e: EngineEvent) => {
      if (until !== undefined && e.timeNano > until) return;
      if (matches(f, e)) res.write(JSON.stringify(e) + '\n');
    };
    const buffered: EngineEvent[] = [];
    let live = false;
    const unsubscribe = backend.events.subscribe((e) => (live ? send(e) : buffered.push(e)));
    if (since !== undefined) for (const e of backend.events.past(since)) send(e);
    for (const e of buffered) send(e);
    live = true;
    const finish = () => {
      unsubscribe();
      if (!res.destroyed && !res.writableEnded) res.end();
    };
    res.on('close', finish);
    if (until !== undefined) {
      const wait = Math.max(0, (until - Date.now() * 1e6) / 1e6);
      setTimeout(finish, wait);
    }
  });
}
