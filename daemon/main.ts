#!/usr/bin/env node
// berthd: config → data-root lock → store → engine → app → sockets. The only file that listens.
import { chmodSync, mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, socketPath, usage, UsageError, type DaemonConfig } from './config';
import { openDatabase } from './store/db';
import { createEngine, type Engine } from './backend/engine';
import { buildApp } from './server/app';
import { loadAddon } from './native/binding';
import { BERTH_VERSION } from './version';

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

async function main(argv: string[]): Promise<void> {
  const { config, help, version } = loadConfig(argv);
  if (help) { process.stdout.write(usage); return; }
  if (version) { process.stdout.write(`berthd version ${BERTH_VERSION}\n`); return; }
  if (process.getuid?.() !== 0) throw new UsageError('berthd needs to run as root');

  mkdirSync(config.dataRoot, { recursive: true, mode: 0o710 });
  mkdirSync(config.execRoot, { recursive: true, mode: 0o700 });
  lockDataRoot(config.dataRoot);

  const db = openDatabase(join(config.dataRoot, 'berth.db'));
  const engine = await createEngine({ config, db });
  const app = buildApp({
    backend: engine.backend,
    logger: { level: config.logLevel, base: { name: 'berthd' } },
  });
  await app.ready();

  const sockets = config.hosts.map(socketPath);
  for (const path of sockets) {
    mkdirSync(dirname(path), { recursive: true });
    rmSync(path, { force: true }); // stale from a crash; the data-root lock says it is ours
    // fastify's own "listening" line, worded as berthd's one line per socket
    await app.listen({ path, listenTextResolver: () => `berthd ${BERTH_VERSION} listening on unix://${path} (data root ${config.dataRoot})` });
    chmodSync(path, 0o660);
  }
  writeFileSync(config.pidfile, `${process.pid}\n`);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    try {
      await app.close();
      await engine.close();
      db.close();
    } finally {
      cleanupFiles(config, sockets);
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function cleanupFiles(config: DaemonConfig, sockets: string[]): void {
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
