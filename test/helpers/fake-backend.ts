// A Backend made of recording fakes, for inject tests of the HTTP layer.
import type { Backend, ImagesBackend } from '../../daemon/backend/types';
import { EventBus } from '../../daemon/backend/events';
import { NotFound } from '../../daemon/errors';

export interface FakeBackend extends Backend {
  calls: Array<{ method: string; args: unknown[] }>;
}

export function fakeBackend(overrides: { images?: Partial<ImagesBackend> } = {}): FakeBackend {
  const calls: FakeBackend['calls'] = [];
  const record = <T>(method: string, result: (...args: any[]) => T) => (...args: unknown[]) => {
    calls.push({ method, args });
    return result(...args);
  };
  const images: ImagesBackend = {
    list: record('images.list', async () => []),
    inspect: record('images.inspect', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    history: record('images.history', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    importImage: record('images.importImage', async () => 'sha256:' + '0'.repeat(64)),
    tag: record('images.tag', async () => undefined),
    remove: record('images.remove', async (ref: string) => { throw new NotFound(`No such image: ${ref}`); }),
    ...overrides.images,
  };
  return {
    calls,
    events: new EventBus(),
    system: {
      version: record('system.version', async () => ({ Version: 'fake', ApiVersion: '1.45' })),
      info: record('system.info', async () => ({ ID: 'fake', Containers: 0 })),
    },
    images,
  };
}
