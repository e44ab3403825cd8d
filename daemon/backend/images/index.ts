// Placeholder replaced by the image store work.
import type { DaemonConfig } from '../../config';
import type { DB } from '../../store/db';
import type { EventBus } from '../events';
import { NotImplemented } from '../../errors';
import type { ImagesBackend } from '../types';

export class Images implements ImagesBackend {
  static async open(_deps: { config: DaemonConfig; db: DB; events: EventBus }): Promise<Images> { return new Images(); }
  count(): number { return 0; }
  async list() { return []; }
  async inspect(): Promise<Record<string, unknown>> { throw new NotImplemented('x'); }
  async history(): Promise<never> { throw new NotImplemented('x'); }
  async importImage(): Promise<string> { throw new NotImplemented('x'); }
  async tag(): Promise<void> { throw new NotImplemented('x'); }
  async remove(): Promise<never> { throw new NotImplemented('x'); }
}
