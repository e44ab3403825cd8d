#!/usr/bin/env node
// berthd: config → data-root lock → store → engine → app → sockets. The only file that listens.
// Signals as dockerd handles them: SIGTERM/SIGINT shut down gracefully (a third one forces
// the exit), SIGHUP reloads daemon.json, SIGQUIT dumps stacks and exits without cleanup.
import { chmodSync, chownSync, mkdirSync, rmSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { loadConfig, reloadConfig, socketPath, tcpAddress, tcpSecurity, usage, UsageError, type DaemonConfig } from './config';
import { socketGid, tlsServerOptions } from './listeners';
import { openDatabase } from './store/db';
import { createEngine } from './backend/engine';
import { buildApp } from './server/app';
import { loggerOptions, logRequests } from './server/logging';
import { Metrics, observeRequests, serveMetrics } from './server/metrics';
import { loadAddon } from './native/binding';
import { realNativeOps } from './native/ops';
import { fdsForHost, moveToLeafCgroup, notifier, takeListenFds } from './systemd';
import { BERTH_VERSION } from './version';

/** How long shutdown waits for requests still being worked on (create, start, pull...). */
const DRAIN_MS = 10_000;
/** SIGTERM/SIGINT this many times: exit at once, without cleanup (dockerd's forceQuitCount). */
const FORCE_QUIT_SIGNALS = 3;

/** Free space a tar upload may never take from the data root: 1 GiB, or 5% of a smaller disk. */
function uploadAllowance(dataRoot: string): () => number {
  return () => {
    const s = statfsSync(dataRoot);
    const reserve = Math.min(1024 ** 3, Math.floor(s.blocks * s.bsize * 0.05));
    return Math.max(0, s.bavail * s.bsize - reserve);
  };
}

/** One berthd per data root: an exclusive flock held for the life of the process. */
function lockDataRoot(dataRoot: string): void {
  try {
    loadAddon().lockFile(join(dataRoot, 'berth.lock'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EWOULDBLOCK') {
      throw new UsageError(`another berthd is already running on data root ${dataRoot} (${join(dataRoot, 'berth.lock')} is locked)`);
    }
    throw err;
  }
}

type Endpoint = { host: string; path: string } | { host: string; fd: number } | { host: string; tcp: { host: string; port: number } };

/** Every address berthd listens on; `fd://` takes what systemd passed (checked up front). */
function endpoints(hosts: string[], passedFds: number[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const host of hosts) {
    if (host.startsWith('fd://')) {
      try {
        for (const fd of fdsForHost(host, passedFds)) out.push({ host: `fd://${fd}`, fd });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    } else if (host.startsWith('tcp://')) {
      out.push({ host, tcp: tcpAddress(host, 2375) });
    } else {
      out.push({ host, path: socketPath(host) });
    }
  }
  return out;
}

interface ListenOptions {
  /** owner group of the unix sockets */
  gid: number;
  /** TLS for the tcp:// endpoints; undefined = plain HTTP (explicitly insecure) */
  tls: TlsOptions | undefined;
  warn: (m: string) => void;
}

/**
 * The app's own http.Server listens on the first unix or fd endpoint; every further one is a
 * listener (plain, or TLS for tcp://) that hands its connections to that server, so one HTTP
 * stack (hijack, keep-alive, shutdown) serves them all.
 */
async function listenAll(server: HttpServer, eps: Endpoint[], opts: ListenOptions, line: (ep: Endpoint) => void): Promise<Array<HttpServer | NetServer>> {
  const listeners: Array<HttpServer | NetServer> = [];
  for (const ep of eps) {
    if ('path' in ep) {
      mkdirSync(dirname(ep.path), { recursive: true });
      rmSync(ep.path, { force: true }); // stale from a crash; the data-root lock says it is ours
    }
    const handOver = (socket: import('node:net').Socket) => server.emit('connection', socket);
    const l: HttpServer | NetServer = !('tcp' in ep) && !listeners.includes(server) ? server
      : 'tcp' in ep && opts.tls ? createTlsServer(opts.tls, handOver) : createNetServer(handOver);
    // a client without an acceptable certificate never reaches HTTP: logged, berthd serves on
    if ('tcp' in ep && opts.tls) l.on('tlsClientError', (err: Error) => opts.warn(`${ep.host}: TLS handshake refused: ${err.message}`));
    // the socket is made 0600 (umask) and then opened to its group: never briefly world-usable
    const umask = 'path' in ep ? process.umask(0o177) : undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        l.once('error', reject);
        l.listen('path' in ep ? { path: ep.path } : 'fd' in ep ? { fd: ep.fd } : { host: ep.tcp.host, port: ep.tcp.port }, () => {
          l.off('error', reject);
          resolve();
        });
      });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
    // systemd made its sockets with the unit's SocketMode and SocketGroup
    if ('path' in ep) {
      chownSync(ep.path, 0, opts.gid);
      chmodSync(ep.path, 0o660);
    }
    listeners.push(l);
    line(ep);
  }
  return listeners;
}

interface InFlight { reply: FastifyReply; res: ServerResponse }

/** Requests not yet answered, so that shutdown can let them finish and end the streams. */
function trackRequests(app: FastifyInstance): Set<InFlight> {
  const inflight = new Set<InFlight>();
  app.addHook('onRequest', async (_request, reply) => {
    const entry = { reply, res: reply.raw };
    inflight.add(entry);
    reply.raw.once('close', () => inflight.delete(entry));
  });
  return inflight;
}

/**
 * Ends what can be ended now and waits (bounded) for the rest: a stream whose headers are
 * out (logs -f, events, stats, pull progress) gets its last chunk, so clients see a clean
 * end; a hijacked connection (attach, exec) gets a FIN after its pending output; requests
 * still being worked on may finish within DRAIN_MS.
 */
async function drain(inflight: Set<InFlight>, log: (m: string) => void): Promise<void> {
  const pending = (): InFlight[] => [...inflight].filter(({ reply, res }) => {
    if (res.writableEnded) return false;
    if (res.headersSent) {
      // a stream still framed by the response (beginStream): its last chunk, a clean end
      res.on('error', () => {}); // a late write from the stream's source is moot now
      res.end();
      return false;
    }
    if (reply.sent) {
      res.socket?.end(); // hijacked raw (attach, exec): the socket is the stream
      return false;
    }
    return true;
  });
  const deadline = Date.now() + DRAIN_MS;
  let left = pending();
  if (left.length > 0) log(`waiting up to ${DRAIN_MS / 1000}s for ${left.length} request(s) in progress`);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = pending();
  }
  if (left.length > 0) log(`${left.length} request(s) still in progress at shutdown: their connections are cut`);
}

/** SIGQUIT: what berthd is doing, on stderr (no environment: it may hold secrets). */
function dumpStacks(): void {
  const report = process.report.getReport() as unknown as {
    header: Record<string, unknown>;
    javascriptStack: { message: string; stack: string[] };
    nativeStack: Array<{ pc: string; symbol: string }>;
    libuv: Array<{ type: string; is_active: boolean; address?: string; localEndpoint?: unknown; remoteEndpoint?: unknown }>;
    workers: unknown[];
  };
  const lines = [
    `=== berthd ${BERTH_VERSION} (pid ${process.pid}) stack dump, ${new Date().toISOString()} ===`,
    `node ${process.version}, uptime ${process.uptime().toFixed(1)}s, rss ${process.memoryUsage().rss} bytes`,
    '--- JavaScript stack (main thread) ---',
    report.javascriptStack.message,
    ...report.javascriptStack.stack.map((s) => `    ${s.trim()}`),
    '--- native stack ---',
    ...report.nativeStack.map((f) => `    ${f.pc} ${f.symbol}`),
    '--- active libuv handles ---',
    ...report.libuv.filter((h) => h.is_active).map((h) => `    ${h.type}${h.localEndpoint ? ` ${JSON.stringify(h.localEndpoint)}` : ''}${h.remoteEndpoint ? ` -> ${JSON.stringify(h.remoteEndpoint)}` : ''}`),
    `--- ${report.workers.length} worker thread(s) ---`,
  ];
  process.stderr.write(lines.join('\n') + '\n');
}

async function main(argv: string[]): Promise<void> {
  const { config, help, version, validate } = loadConfig(argv);
  if (help) { process.stdout.write(usage); return; }
  if (version) { process.stdout.write(`berthd version ${BERTH_VERSION}\n`); return; }
  // dockerd prints this on stderr; the listeners are not part of what --validate checks
  if (validate) { process.stderr.write('configuration OK\n'); return; }
  const eps = endpoints(config.hosts, takeListenFds());
  const tcpSec = tcpSecurity(config);
  const tls = tlsServerOptions(config, tcpSec);
  const startWarnings = [...tcpSec.warnings];
  const gid = socketGid(config.group, (m) => startWarnings.push(m));
  if (process.getuid?.() !== 0) throw new UsageError('berthd needs to run as root');

  const addon = loadAddon();
  let app: FastifyInstance | undefined;
  const warn = (m: string) => (app ? app.log.warn(m) : process.stderr.write(`berthd: ${m}\n`));
  const notify = notifier((socket, state) => addon.sdNotify(socket, state), (err) => warn(`sd_notify: ${err.message}`));

  // Under systemd (INVOCATION_ID) with a delegated cgroup v2 subtree: into a leaf of our own.
  if (process.env.INVOCATION_ID) {
    try {
      const leaf = moveToLeafCgroup(realNativeOps().detectCgroups());
      if (leaf) process.stderr.write(`berthd: moved into cgroup ${leaf}\n`);
    } catch (err) {
      warn(`cannot move into a leaf cgroup of its own: ${(err as Error).message}`);
    }
  }

  mkdirSync(config.dataRoot, { recursive: true, mode: 0o710 });
  mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
  lockDataRoot(config.dataRoot);
  notify('STATUS=Starting: opening the store and reconciling containers');

  const metrics = new Metrics(BERTH_VERSION);
  const db = openDatabase(join(config.dataRoot, 'berth.db'));
  const engine = await createEngine({
    config, db,
    onContainerStarted: (s) => metrics.containerStarted(s),
    onContainerRestart: () => metrics.restarts.inc(),
  });
  metrics.attach(engine.stats);
  app = buildApp({ backend: engine.backend, logger: loggerOptions(config.logLevel), limits: { uploadAllowance: uploadAllowance(config.dataRoot) } });
  const log = app.log;
  logRequests(app);
  observeRequests(app, metrics);
  const inflight = trackRequests(app);
  await app.ready();

  for (const w of startWarnings) log.warn(w);
  const listeners = await listenAll(app.server, eps, { gid, tls, warn: (m) => log.warn(m) }, (ep) => {
    log.info('path' in ep
      ? `berthd ${BERTH_VERSION} listening on unix://${ep.path} (data root ${config.dataRoot})`
      : 'tcp' in ep ? `berthd ${BERTH_VERSION} listening on ${ep.host} (${tcpSec.mode === 'verify' ? 'TLS, client certificates required' : tcpSec.mode === 'tls' ? 'TLS without client authentication' : 'plain HTTP, no authentication'}) (data root ${config.dataRoot})`
      : `berthd ${BERTH_VERSION} listening on ${ep.host}, a socket systemd passed (data root ${config.dataRoot})`);
  });
  const metricsServer = config.metricsAddr ? await serveMetrics(config.metricsAddr, metrics) : undefined;
  if (metricsServer) log.info(`metrics at http://${config.metricsAddr}/metrics`);
  writeFileSync(config.pidfile, `${process.pid}\n`);
  const status = () => `STATUS=Serving the Docker API on ${eps.map((e) => e.host).join(', ')}`;
  notify(`READY=1\nMAINPID=${process.pid}\n${status()}`);

  process.on('SIGHUP', () => {
    try {
      const r = reloadConfig(config, argv);
      log.level = config.logLevel;
      if (r.reloaded.length > 0) log.info({ reloaded: r.reloaded }, `SIGHUP: reloaded ${r.reloaded.join(', ')}`);
      else log.info('SIGHUP: no reloadable setting changed');
      if (r.needRestart.length > 0) log.warn({ needRestart: r.needRestart }, `SIGHUP: ${r.needRestart.join(', ')} changed; a restart of berthd applies that`);
      notify(status());
    } catch (err) {
      log.error(`SIGHUP: configuration not reloaded: ${(err as Error).message}`);
    }
  });

  process.on('SIGQUIT', () => {
    // dockerd leaves SIGQUIT to the Go runtime: every goroutine's stack on stderr, exit 2,
    // no cleanup. Containers keep running under their monitors either way.
    dumpStacks();
    process.exit(2);
  });

  let signals = 0;
  const shutdown = async (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals >= FORCE_QUIT_SIGNALS) {
      log.warn(`${signal}: forcing shutdown without cleanup; ${signals} interrupts received`);
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    if (signals > 1) return;
    log.info(`${signal}: shutting down`);
    // a safety net for a shutdown that hangs (stop timeouts bound engine.close on their own)
    setTimeout(() => process.exit(1), DRAIN_MS + 60_000).unref();
    notify('STOPPING=1\nSTATUS=Shutting down');
    let code = 0;
    try {
      for (const l of [...listeners, metricsServer]) l?.close(); // stop accepting
      app!.server.closeIdleConnections();
      await drain(inflight, (m) => log.info(m));
      app!.server.closeAllConnections();
      await app!.close();
      await engine.close();
      db.close();
    } catch (err) {
      log.error(`shutdown: ${(err as Error).message}`);
      code = 1;
    } finally {
      cleanupFiles(config, eps);
      process.exit(code);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function cleanupFiles(config: DaemonConfig, eps: Endpoint[]): void {
  // fd:// sockets are systemd's: they stay for the next start
  const sockets = eps.flatMap((e) => ('path' in e ? [e.path] : []));
  for (const f of [...sockets, config.pidfile]) {
    try { unlinkSync(f); } catch { /* already gone */ }
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`berthd: ${message}\n`);
  if (err instanceof UsageError) process.stderr.write(`Run 'berthd --help' for usage.\n`);
  process.exit(1);
});
