// Assembles the engine from the store and the native layer: the Backend the routes call.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DaemonConfig } from '../config';
import type { DB } from '../store/db';
import type { Backend } from './types';
import { EventBus } from './events';
import { System } from './system';
import { Images } from './images';

export interface Engine {
  backend: Backend;
  close(): Promise<void>;
}

export interface EngineDeps {
  config: DaemonConfig;
  db: DB;
}

/** The daemon's ID (dockerd's engine ID), made once per data root. */
function engineId(dataRoot: string): string {
  const file = join(dataRoot, 'engine-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    writeFileSync(file, id + '\n');
    return id;
  }
}

export async function createEngine({ config, db }: EngineDeps): Promise<Engine> {
  // Anything in tmp/ at start-up is staging debris from a crash.
  const tmp = join(config.dataRoot, 'tmp');
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });

  const events = new EventBus();
  const images = await Images.open({ config, db, events });
  const system = new System(config, engineId(config.dataRoot), {
    containers: () => ({ total: 0, running: 0, paused: 0, stopped: 0 }),
    images: () => images.count(),
  }, { driver: 'cgroupfs', version: '1' });

  return {
    backend: { system, images, events },
    async close() { /* containers keep running (live restore); nothing to flush */ },
  };
}
