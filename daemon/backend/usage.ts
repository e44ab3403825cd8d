// `docker system df`: what images, containers, volumes and the build cache use on disk.
import type { Images } from './images';
import type { Containers } from './containers';
import { Filters } from './filters';
import type { Volumes } from './volumes';
import type { CacheRecord } from './build/cache';

export type DfType = 'image' | 'container' | 'volume' | 'build-cache';

export class Usage {
  constructor(private readonly images: Images, private readonly containers: Containers, private readonly volumes?: Pick<Volumes, 'usage'>,
    private readonly buildCache?: () => CacheRecord[]) {}

  async df(types: DfType[]): Promise<Record<string, unknown>> {
    const want = (t: DfType) => types.length === 0 || types.includes(t);
    const out: Record<string, unknown> = {};
    const containers = this.containers.list({ all: true, limit: -1, filters: new Filters() });
    if (want('image')) {
      const users = new Map<string, number>();
      for (const c of containers) users.set(c.ImageID, (users.get(c.ImageID) ?? 0) + 1);
      const list = await this.images.list({ all: true, filters: new Filters(), digests: true });
      // a layer's bytes count as shared for every image when more than one image holds it
      const holders = new Map<string, number>();
      const chains = new Map<string, string[]>();
      for (const img of list) {
        const chain = this.images.resolve(img.Id).chain;
        chains.set(img.Id, chain);
        for (const l of chain) holders.set(l, (holders.get(l) ?? 0) + 1);
      }
      let layersSize = 0;
      for (const l of holders.keys()) layersSize += this.images.layers.get(l)?.size ?? 0;
      out.LayersSize = layersSize;
      out.Images = list.map((img) => {
        const shared = chains.get(img.Id)!.reduce((n, l) => n + ((holders.get(l) ?? 0) > 1 ? this.images.layers.get(l)?.size ?? 0 : 0), 0);
        return { ...img, Containers: users.get(img.Id) ?? 0, SharedSize: shared };
      });
    }
    if (want('container')) {
      out.Containers = await Promise.all(containers.map(async (c) => ({ ...c, ...(await this.containers.sizes(c.Id)) })));
    }
    if (want('volume')) out.Volumes = this.volumes ? await this.volumes.usage() : [];
    if (want('build-cache')) {
      // dockerd sends null for an empty cache; BuilderSize (deprecated) only before API 1.42
      const records = this.buildCache?.() ?? [];
      out.BuildCache = records.length > 0 ? records : null;
    }
    return out;
  }
}
