// GET /metrics in Prometheus' text exposition format (0.0.4), on a listener of its own
// (`metrics-addr`), as dockerd serves it. A counter, a gauge and a histogram are a few lines
// each, so the format is written here rather than pulled in with a client library: berth
// needs no registry, no default collectors, no push gateway. Names follow dockerd's where
// dockerd has the metric (engine_daemon_*), berth_* otherwise.
import { createServer, type Server } from 'node:http';
import { readdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/** What the engine reports; read at scrape time. */
export interface MetricSource {
  containers(): { running: number; paused: number; stopped: number };
  images(): number;
  layers(): { count: number; bytes: number };
}

type Labels = Record<string, string>;

/** Prometheus' default buckets (seconds), fine for API calls and container starts alike. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length === 0 ? '' : `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}
function num(n: number): string {
  return n === Infinity ? '+Inf' : Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(15)));
}
function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

export class Counter {
  private readonly values = new Map<string, { labels: Labels; n: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = labelText(labels);
    const v = this.values.get(key);
    if (v) v.n += by;
    else this.values.set(key, { labels, n: by });
  }
  render(): string {
    let out = header(this.name, this.help, 'counter');
    if (this.values.size === 0) return out + `${this.name} 0\n`;
    for (const { labels, n } of this.values.values()) out += `${this.name}${labelText(labels)} ${num(n)}\n`;
    return out;
  }
}

export class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, private readonly buckets = DEFAULT_BUCKETS) {}
  observe(labels: Labels, value: number): void {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }
  render(): string {
    let out = header(this.name, this.help, 'histogram');
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => { out += `${this.name}_bucket${labelText(s.labels, ['le', num(le)])} ${s.counts[i]}\n`; });
      out += `${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}\n`;
      out += `${this.name}_sum${labelText(s.labels)} ${num(s.sum)}\n`;
      out += `${this.name}_count${labelText(s.labels)} ${s.count}\n`;
    }
    return out;
  }
}

function gauge(name: string, help: string, samples: Array<[Labels, number]>): string {
  return header(name, help, 'gauge') + samples.map(([l, v]) => `${name}${labelText(l)} ${num(v)}\n`).join('');
}

function openFds(): number {
  try { return readdirSync('/proc/self/fd').length; } catch { return 0; }
}

export class Metrics {
  readonly apiRequests = new Counter('berth_api_requests_total', 'API requests answered, by method, route and status code.');
  readonly apiSeconds = new Histogram('berth_api_request_duration_seconds', 'Time to answer an API request (to the end of the response), by method and route.');
  readonly startSeconds = new Histogram('engine_daemon_container_actions_seconds', 'The number of seconds it takes to process each container action.');
  readonly restarts = new Counter('berth_container_restarts_total', 'Containers restarted by their restart policy (monitor relaunches).');
  private source: MetricSource | undefined;
  private readonly startedAt = Date.now() / 1000;

  constructor(private readonly version: string) {}

  /** The engine, once it exists (the API's counters run from the first request). */
  attach(source: MetricSource): void {
    this.source = source;
  }

  containerStarted(seconds: number): void {
    this.startSeconds.observe({ action: 'start' }, seconds);
  }

  render(): string {
    const parts: string[] = [
      gauge('engine_daemon_engine_info', 'The information related to the engine.', [[{ version: this.version, daemon: 'berthd', os: 'linux' }, 1]]),
    ];
    if (this.source) {
      const c = this.source.containers();
      const layers = this.source.layers();
      parts.push(
        gauge('engine_daemon_container_states_containers', 'The count of containers in various states.',
          [[{ state: 'running' }, c.running], [{ state: 'paused' }, c.paused], [{ state: 'stopped' }, c.stopped]]),
        gauge('berth_images', 'Images in the image store.', [[{}, this.source.images()]]),
        gauge('berth_layers', 'Extracted layers in the layer store.', [[{}, layers.count]]),
        gauge('berth_layer_bytes', 'Bytes of the extracted layers, each shared layer counted once.', [[{}, layers.bytes]]),
      );
    }
    const mem = process.memoryUsage();
    parts.push(
      this.startSeconds.render(),
      this.restarts.render(),
      this.apiRequests.render(),
      this.apiSeconds.render(),
      gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [[{}, mem.rss]]),
      gauge('process_open_fds', 'Number of open file descriptors.', [[{}, openFds()]]),
      gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', [[{}, Math.floor(this.startedAt)]]),
    );
    return parts.join('');
  }
}

/**
 * Counts and times every request by its route pattern (`/containers/:id/start`, never the
 * concrete path, so the series stay few). Hijacked requests (attach, exec) count when they
 * are handed over; their stream's life is not an API latency.
 */
export function observeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const seconds = reply.elapsedTime / 1000;
    metrics.apiRequests.inc({ method: request.method, route, code: String(reply.statusCode) });
    metrics.apiSeconds.observe({ method: request.method, route }, seconds);
    done();
  });
}

/** host:port (IPv6 as [addr]:port) -> listen options. */
export function parseListenAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(':');
  return { host: addr.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(addr.slice(i + 1)) };
}

/** The /metrics listener: GET /metrics only; anything else is a 404. */
export function serveMetrics(addr: string, metrics: Metrics): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' }).end('method not allowed\n');
      return;
    }
    const body = metrics.render();
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 5_000;
  const { host, port } = parseListenAddr(addr);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
