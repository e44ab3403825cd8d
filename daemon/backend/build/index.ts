// The classic builder (moby's builder/dockerfile) behind POST /build: stages, one image per
// instruction (the intermediate images are the cache, chained by Parent), RUN in a real
// container of the stage's image that is then committed, COPY/ADD as a layer made straight
// from the context (copy.ts), metadata instructions as an image with an empty layer. The
// progress records are dockerd's, record for record.
import { createHash, randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InvalidParameter, NotFound, errorMessage } from '../../errors';
import type { DB } from '../../store/db';
import { BERTH_VERSION } from '../../version';
import type { Filters } from '../filters';
import type { BuildBackend, BuildOptions, ProgressSink } from '../types';
import type { AuthConfig, RegistryBackend } from '../registry';
import type { Images, ImageRecord } from '../images';
import type { Containers } from '../containers';
import type { LayerHandle, LayerNativeOps } from '../layers/store';
import type { DiffNativeOps } from '../layers/diff';
import { commitLayer } from '../images/commit';
import { goArch, normalizeContainerConfig, type ContainerConfig, type ImageConfigJSON } from '../images/config';
import { familiarString, parseNormalizedNamed, shortId, withDefaultTag, type Reference } from '../images/reference';
import { rfc3339Nano } from '../containers/status';
import { BuildCache, type CacheRecord, type PruneOptions } from './cache';
import { applyDockerignore, extractContext, readDockerfile } from './context';
import { copyEntries, hasGlob, hashEntries, isArchive, matchSources, packEntries, type LayerEntry, type Owner } from './copy';
import { CONFIG_INSTRUCTIONS, applyConfigInstruction, argDecls, argValue, commandLine } from './instructions';
import { expandWord, expandWords, flagValues, parseDockerfile, type Instruction, type Lookup } from './parser';
import { layeredView, pathParts, type FsView } from './rootfs';

/** A failed build step with the exit code the CLI exits with (errorDetail.code). */
export class BuildStepFailed extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** Build args every build accepts without an ARG (moby's BuiltinAllowedBuildArgs); never in history. */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy',
  'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

const URL_TIMEOUT_MS = 15_000;
const DOCKER_HUB_INDEX = 'https://index.docker.io/v1/';

export interface BuilderDeps {
  db: DB;
  images: Images;
  /** Pulls FROM and COPY --from images (--pull, or not here); without it builds use local images only. */
  registry?: Pick<RegistryBackend, 'pull'>;
  containers: Pick<Containers, 'create' | 'start' | 'attach' | 'waitFor' | 'remove' | 'withCommitSource'>;
  tmpDir: string;
  layerOps: LayerNativeOps;
  diffOps: DiffNativeOps;
}

interface Stage {
  name: string;
  index: number;
  /** null: FROM scratch and no step yet. */
  imageId: string | null;
  config: ContainerConfig;
  /** ARGs declared in this stage and their values (undefined: declared without a value). */
  args: Map<string, string | undefined>;
  cmdSet: boolean;
  author?: string;
}

interface Run {
  opts: BuildOptions;
  out: ProgressSink;
  contextDir: string;
  context: FsView;
  escape: string;
  step: number;
  total: number;
  globalArgs: Map<string, string | undefined>;
  usedArgs: Set<string>;
  stages: Stage[];
}

export class Builder implements BuildBackend {
  private readonly cache: BuildCache;

  constructor(private readonly d: BuilderDeps) {
    this.cache = new BuildCache(d.db, d.images);
  }

  async build(opts: BuildOptions, progress: ProgressSink): Promise<string> {
    const tags: Reference[] = opts.tags.map((t) => {
      try {
        return withDefaultTag(parseNormalizedNamed(t));
      } catch {
        throw new InvalidParameter(`invalid reference format: ${t}`);
      }
    });
    if (opts.remote) throw new InvalidParameter('berth cannot build from a remote context (git or URL): send the context as a tar');
    if (opts.platform) checkPlatform(opts.platform);
    const dir = await fsp.mkdtemp(join(this.d.tmpDir, 'build-'));
    try {
      const contextDir = join(dir, 'context');
      await extractContext(opts.context, contextDir, this.d.layerOps);
      const dockerfile = parseDockerfile(await readDockerfile(contextDir, opts.dockerfile));
      await applyDockerignore(contextDir);
      const quiet = opts.quiet;
      const out: ProgressSink = quiet ? () => { /* -q: only the ID */ } : progress;
      const run: Run = {
        opts, out, contextDir, context: layeredView([contextDir], null), escape: dockerfile.escape,
        step: 0, total: 0, globalArgs: new Map(), usedArgs: new Set(), stages: [],
      };
      const plan = this.plan(run, dockerfile.instructions);
      let last: Stage | undefined;
      for (const stage of plan) {
        last = await this.runStage(run, stage.from, stage.body, stage === plan[plan.length - 1] ? labelStep(opts.labels) : null);
      }
      if (!last?.imageId) throw new InvalidParameter('No image was generated. Is your Dockerfile empty?');
      const unused = Object.keys(opts.buildArgs).filter((k) => !run.usedArgs.has(k) && !PROXY_ARGS.has(k)).sort();
      if (unused.length > 0) out({ stream: `[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n` });
      const id = last.imageId;
      if (quiet) progress({ stream: `${id}\n` });
      else {
        progress({ aux: { ID: id } });
        progress({ stream: `Successfully built ${shortId(id)}\n` });
      }
      for (const ref of tags) {
        this.d.images.tagImage(id, ref);
        out({ stream: `Successfully tagged ${familiarString(ref)}\n` });
      }
      return id;
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  }

  /** docker builder prune (cache.ts says what goes). */
  prune(filters: Filters, opts: PruneOptions): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
    return this.cache.prune(filters, opts);
  }

  /** Cache entries, as `system df` lists them. */
  cacheRecords(): CacheRecord[] {
    return this.cache.records();
  }

  // ---- stages ------------------------------------------------------------------------------

  /** Splits the instructions into stages (global ARGs first), stops at --target, counts the steps. */
  private plan(run: Run, instructions: Instruction[]): Array<{ from: Instruction; body: Instruction[] }> {
    const stages: Array<{ from: Instruction; body: Instruction[]; name: string }> = [];
    for (const ins of instructions) {
      if (ins.cmd === 'from') {
        const words = ins.args.split(/\s+/);
        const name = words.length === 3 && words[1]!.toLowerCase() === 'as' ? words[2]!.toLowerCase() : '';
        if (words.length !== 1 && name === '') throw new InvalidParameter('FROM requires either one or three arguments');
        if (name && stages.some((s) => s.name === name)) throw new InvalidParameter(`duplicate name ${name}`);
        stages.push({ from: ins, body: [], name });
      } else if (stages.length === 0) {
        if (ins.cmd !== 'arg') throw new InvalidParameter('no build stage in current context');
        for (const [k, v] of argDecls(ins, (n) => valueOf(run.globalArgs, n), run.escape)) {
          run.globalArgs.set(k, argValue(k, v, run.opts.buildArgs));
          if (k in run.opts.buildArgs) run.usedArgs.add(k);
        }
      } else stages[stages.length - 1]!.body.push(ins);
    }
    let chosen = stages;
    if (run.opts.target) {
      const i = stages.findIndex((s) => s.name === run.opts.target!.toLowerCase());
      if (i < 0) throw new InvalidParameter(`failed to reach build target ${run.opts.target} in Dockerfile`);
      chosen = stages.slice(0, i + 1);
    }
    run.total = chosen.reduce((n, s) => n + 1 + s.body.length, 0) + (Object.keys(run.opts.labels).length > 0 ? 1 : 0);
    return chosen;
  }

  private async runStage(run: Run, from: Instruction, body: Instruction[], extra: Instruction | null): Promise<Stage> {
    this.stepHeader(run, from);
    const stage = await this.from(run, from);
    run.stages.push(stage);
    if (stage.imageId) run.out({ stream: ` ---> ${shortId(stage.imageId)}\n` });
    await this.onbuildTriggers(run, stage);
    for (const ins of [...body, ...(extra ? [extra] : [])]) {
      this.stepHeader(run, ins);
      await this.dispatch(run, stage, ins);
      run.out({ stream: ` ---> ${shortId(stage.imageId!)}\n` });
    }
    return stage;
  }

  private stepHeader(run: Run, ins: Instruction): void {
    run.step++;
    run.out({ stream: `Step ${run.step}/${run.total} : ${ins.original}` });
    run.out({ stream: '\n' });
  }

  private async from(run: Run, ins: Instruction): Promise<Stage> {
    const flags = flagValues(ins, ['platform']);
    const globals: Lookup = (n) => valueOf(run.globalArgs, n);
    const platform = flags.get('platform');
    if (platform) checkPlatform(expandWord(platform, globals, run.escape));
    const words = ins.args.split(/\s+/);
    const base = expandWord(words[0]!, globals, run.escape);
    const name = words.length === 3 ? words[2]!.toLowerCase() : '';
    const stage: Stage = { name, index: run.stages.length, imageId: null, config: normalizeContainerConfig({}), args: new Map(), cmdSet: false };
    if (base === '') throw new InvalidParameter('base name (' + words[0] + ') should not be blank');
    if (base.toLowerCase() === 'scratch') return stage;
    const prior = run.stages.find((s) => s.name !== '' && s.name === base.toLowerCase());
    const img = prior?.imageId ? this.d.images.resolve(prior.imageId) : await this.image(run, base);
    stage.imageId = img.id;
    stage.config = normalizeContainerConfig(structuredClone(img.config.config ?? {}));
    return stage;
  }

  /**
   * An image FROM or COPY --from names, as dockerd's classic builder finds it: pulled when
   * --pull asks for it or it is not here, the pull's progress in the build's stream; an image
   * ID is never pulled. A pull that cannot happen fails the build with the registry's error.
   */
  private async image(run: Run, name: string): Promise<ImageRecord> {
    let local: ImageRecord | undefined;
    try {
      local = this.d.images.resolve(name);
    } catch (err) {
      if (!(err instanceof NotFound)) throw err;
    }
    const byId = /^(sha256:)?[0-9a-f]{64}$/.test(name);
    if (local && (!run.opts.pull || byId)) return local;
    if (!this.d.registry || byId) {
      if (local) return local;
      throw new NotFound(`pull access denied for ${name}, repository does not exist or may require 'docker login': berth found no local image ${familiarString(withDefaultTag(parseNormalizedNamed(name)))} and has no registry to pull it from`);
    }
    const ref = parseNormalizedNamed(name);
    const id = await this.d.registry.pull({
      image: name, auth: authFor(run.opts.authConfigs ?? {}, ref.name.slice(0, ref.name.indexOf('/'))),
      ...(run.opts.platform && { platform: run.opts.platform }),
    }, run.out);
    return this.d.images.resolve(id);
  }

  private async onbuildTriggers(run: Run, stage: Stage): Promise<void> {
    const triggers = stage.config.OnBuild ?? [];
    if (triggers.length === 0) return;
    run.out({ stream: `# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n` });
    stage.config.OnBuild = null;
    for (const t of triggers) {
      const ins = parseDockerfile(t).instructions[0]!;
      if (ins.cmd === 'onbuild' || ins.cmd === 'from' || ins.cmd === 'maintainer') throw new InvalidParameter(`${ins.cmd.toUpperCase()} isn't allowed as an ONBUILD trigger`);
      await this.dispatch(run, stage, ins);
    }
  }

  // ---- instructions ------------------------------------------------------------------------

  private lookup(run: Run, stage: Stage): Lookup {
    return (name) => {
      for (const e of stage.config.Env ?? []) if (e.startsWith(name + '=')) return e.slice(name.length + 1);
      return stage.args.has(name) ? stage.args.get(name) : undefined;
    };
  }

  private async dispatch(run: Run, stage: Stage, ins: Instruction): Promise<void> {
    const env = this.lookup(run, stage);
    switch (ins.cmd) {
      case 'run': return this.runStep(run, stage, ins);
      case 'copy': case 'add': return this.copyStep(run, stage, ins);
      case 'arg':
        flagValues(ins, []);
        for (const [k, v] of argDecls(ins, env, run.escape)) {
          stage.args.set(k, argValue(k, v, run.opts.buildArgs, run.globalArgs));
          if (k in run.opts.buildArgs) run.usedArgs.add(k);
        }
        break;
      case 'maintainer':
        flagValues(ins, []);
        if (ins.args === '') throw new InvalidParameter('MAINTAINER requires exactly one argument');
        stage.author = ins.args;
        break;
      default:
        if (!CONFIG_INSTRUCTIONS.has(ins.cmd)) throw new InvalidParameter(`unknown instruction: ${ins.cmd.toUpperCase()}`);
        applyConfigInstruction(stage, ins, env, run.escape);
        if (ins.cmd === 'workdir') return this.workdirStep(run, stage, ins);
    }
    await this.metadataStep(run, stage, ins);
  }

  /** ENV, LABEL, CMD ...: an image with an empty layer (moby commits a container that never ran). */
  private async metadataStep(run: Run, stage: Stage, ins: Instruction, createdBy = `/bin/sh -c #(nop) ${nopText(ins)}`): Promise<void> {
    const key = this.cacheKey(stage, createdBy, null);
    if (this.cacheHit(run, stage, key)) return;
    const cid = randomBytes(32).toString('hex');
    run.out({ stream: ` ---> Running in ${cid.slice(0, 12)}\n` });
    stage.imageId = this.record(stage, null, createdBy, key, cid);
    if (run.opts.rm) run.out({ stream: `Removing intermediate container ${cid.slice(0, 12)}\n` });
  }

  private async workdirStep(run: Run, stage: Stage, ins: Instruction): Promise<void> {
    const dir = pathParts(stage.config.WorkingDir);
    const createdBy = `/bin/sh -c #(nop) WORKDIR ${stage.config.WorkingDir}`;
    const key = this.cacheKey(stage, createdBy, null);
    if (this.cacheHit(run, stage, key)) return;
    const view = this.imageView(stage.imageId);
    const entries: LayerEntry[] = [];
    for (let i = 1; i <= dir.length; i++) {
      if (await view.lstat(dir.slice(0, i))) continue;
      entries.push({ name: dir.slice(0, i).join('/'), type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date() });
    }
    if (entries.length === 0) return this.metadataStep(run, stage, ins, createdBy);
    const cid = randomBytes(32).toString('hex');
    run.out({ stream: ` ---> Running in ${cid.slice(0, 12)}\n` });
    const layer = await this.register(stage, packEntries(entries));
    stage.imageId = this.record(stage, layer, createdBy, key, cid);
    if (run.opts.rm) run.out({ stream: `Removing intermediate container ${cid.slice(0, 12)}\n` });
  }

  private async runStep(run: Run, stage: Stage, ins: Instruction): Promise<void> {
    flagValues(ins, []);
    if (!stage.imageId) throw new InvalidParameter('RUN needs a filesystem to run in: FROM scratch has none until a COPY or ADD');
    const argv = commandLine(stage.config, ins);
    // build args the stage declared (and the proxy args) reach RUN's environment; ENV wins
    const argEnv: string[] = [];
    const shown: string[] = [];
    const envKeys = new Set((stage.config.Env ?? []).map((e) => e.split('=')[0]));
    for (const [k, v] of stage.args) {
      if (v === undefined || envKeys.has(k)) continue;
      argEnv.push(`${k}=${v}`);
      shown.push(`${k}=${v}`);
    }
    for (const [k, v] of Object.entries(run.opts.buildArgs)) {
      if (PROXY_ARGS.has(k) && v != null && !stage.args.has(k)) argEnv.push(`${k}=${v}`);
    }
    shown.sort();
    const cmdText = argv.join(' ');
    const createdBy = shown.length > 0 ? `|${shown.length} ${shown.join(' ')} ${cmdText}` : cmdText;
    const key = this.cacheKey(stage, createdBy, null);
    if (this.cacheHit(run, stage, key)) return;

    const hc: Record<string, unknown> = { NetworkMode: run.opts.networkMode || 'default', ...run.opts.resources };
    const { Id: cid } = await this.d.containers.create(undefined, {
      Image: stage.imageId, Cmd: argv, Entrypoint: [], Env: [...(stage.config.Env ?? []), ...argEnv],
      User: stage.config.User, WorkingDir: stage.config.WorkingDir, Labels: {}, Tty: false,
      AttachStdout: true, AttachStderr: true, OpenStdin: false, HostConfig: hc,
    });
    run.out({ stream: ` ---> Running in ${cid.slice(0, 12)}\n` });
    let failed = true;
    try {
      const attach = this.d.containers.attach(cid, { stdin: false, stdout: true, stderr: true, logs: false, stream: true });
      const copied = (async () => {
        for await (const rec of attach.output as AsyncIterable<{ data: Buffer }>) run.out({ stream: rec.data.toString('utf8') });
      })();
      const exited = this.d.containers.waitFor(cid, 'next-exit');
      try {
        await this.d.containers.start(cid);
      } catch (err) {
        attach.detach();
        await copied.catch(() => undefined);
        throw new BuildStepFailed(`The command '${cmdText}' could not be started: ${errorMessage(err)}`, 127);
      }
      const { StatusCode: code } = await exited;
      await copied.catch(() => undefined);
      if (code !== 0) throw new BuildStepFailed(`The command '${cmdText}' returned a non-zero code: ${code}`, code);
      const layer = await this.d.containers.withCommitSource(cid, false, async (src) => {
        const parent = stage.imageId ? this.d.images.resolve(stage.imageId) : null;
        const top = parent?.chain.length ? parent.chain[parent.chain.length - 1]! : null;
        return commitLayer(src.upper, top, this.d.diffOps, (tar, p) => this.d.images.layers.register(tar as Readable, p));
      });
      stage.imageId = this.record(stage, layer, createdBy, key, cid);
      failed = false;
    } finally {
      if (run.opts.rm && (!failed || run.opts.forceRm)) {
        await this.d.containers.remove(cid, { force: true, volumes: true }).catch(() => undefined);
        run.out({ stream: `Removing intermediate container ${cid.slice(0, 12)}\n` });
      } else if (failed && run.opts.forceRm) {
        await this.d.containers.remove(cid, { force: true, volumes: true }).catch(() => undefined);
      }
    }
  }

  private async copyStep(run: Run, stage: Stage, ins: Instruction): Promise<void> {
    const isAdd = ins.cmd === 'add';
    const what = ins.cmd.toUpperCase();
    const flags = flagValues(ins, isAdd ? ['chown', 'chmod'] : ['chown', 'chmod', 'from']);
    const env = this.lookup(run, stage);
    const words = ins.json ?? expandWords(ins.args, env, run.escape);
    if (words.length < 2) throw new InvalidParameter(`${what} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const destWord = words[words.length - 1]!;
    const sources = words.slice(0, -1);

    const from = flags.get('from');
    let view = run.context;
    let fromId = '';
    if (from) {
      const name = expandWord(from, env, run.escape);
      const prior = /^\d+$/.test(name) ? run.stages[Number(name)] : run.stages.find((s) => s.name === name.toLowerCase());
      if (/^\d+$/.test(name) && (!prior || prior === stage)) throw new InvalidParameter(`invalid from flag value ${name}: refers to current build stage`);
      fromId = prior?.imageId ?? (await this.image(run, name)).id;
      view = this.imageView(fromId);
    }
    const stageView = this.imageView(stage.imageId);
    const owner = flags.get('chown') ? await this.owner(stageView, expandWord(flags.get('chown')!, env, run.escape)) : null;
    const chmodText = flags.get('chmod');
    let chmod: number | null = null;
    if (chmodText) {
      if (!/^[0-7]{3,4}$/.test(chmodText)) throw new InvalidParameter(`invalid chmod parameter ${chmodText}. it should be octal string and between 0 and 07777`);
      chmod = parseInt(chmodText, 8);
    }

    const workdir = pathParts(stage.config.WorkingDir || '/');
    const destParts = destWord.startsWith('/') ? pathParts(destWord) : [...workdir, ...pathParts(destWord)];
    const resolvedDest = await stageView.resolveParents(destParts);
    const destStat = resolvedDest.length ? await stageView.lstat(resolvedDest) : { st: { isDirectory: () => true } };
    let destIsDir = destWord.endsWith('/') || destWord.endsWith('/.') || destWord === '.' || (destStat?.st.isDirectory() ?? false);

    const entries: LayerEntry[] = [];
    const fail = (src: string) => new InvalidParameter(`${what} failed: file not found in build context or excluded by .dockerignore: stat ${src}: file does not exist`);
    const matched: Array<{ parts: string[]; src: string }> = [];
    for (const src of sources) {
      if (isAdd && /^https?:\/\//i.test(src)) {
        matched.push({ parts: [], src });
        continue;
      }
      const parts = pathParts(src);
      const found = hasGlob(src) ? await matchSources(view, parts) : (await view.lstat(parts)) ? [parts] : [];
      if (found.length === 0) {
        if (hasGlob(src)) throw new InvalidParameter(`${what} failed: no source files were specified`);
        throw fail(src);
      }
      for (const f of found) matched.push({ parts: f, src });
    }
    if (matched.length > 1) {
      destIsDir ||= false;
      if (!destWord.endsWith('/') && !(destStat?.st.isDirectory() ?? false)) {
        throw new InvalidParameter(`When using ${what} with more than one source file, the destination must be a directory and end with a /`);
      }
      destIsDir = true;
    }
    for (const m of matched) {
      if (m.parts.length === 0 && /^https?:\/\//i.test(m.src)) {
        const data = await download(m.src);
        const base = new URL(m.src).pathname.split('/').filter(Boolean).pop();
        if (destIsDir && !base) throw new InvalidParameter(`cannot determine filename from url: ${m.src}`);
        const name = destIsDir ? [...resolvedDest, base!] : resolvedDest;
        entries.push({ name: name.join('/'), type: 'file', mode: chmod ?? 0o600, ...(owner ?? { uid: 0, gid: 0 }), mtime: data.mtime, data: data.body });
        continue;
      }
      const e = await view.lstat(m.parts);
      if (!e) throw fail(m.src);
      if (isAdd && !from && e.st.isFile() && await isArchive(e.path)) {
        entries.push({ name: resolvedDest.join('/'), type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(), archive: e.path });
        continue;
      }
      const target = e.st.isDirectory() ? resolvedDest : destIsDir ? [...resolvedDest, m.parts[m.parts.length - 1] ?? ''] : resolvedDest;
      entries.push(...await copyEntries(view, m.parts, target, owner, chmod));
    }
    // the destination's parent directories: kept as the image has them, or made 0755 root
    const parents = new Map<string, LayerEntry>();
    for (const e of entries) {
      const parts = e.name.split('/').filter(Boolean);
      const upto = e.archive || e.type === 'directory' ? parts.length : parts.length - 1;
      for (let i = 1; i <= upto; i++) {
        const p = parts.slice(0, i).join('/');
        if (parents.has(p) || entries.some((x) => x.name === p && !x.archive)) continue;
        const have = await stageView.lstat(parts.slice(0, i));
        parents.set(p, have && have.st.isDirectory()
          ? { name: p, type: 'directory', mode: have.st.mode & 0o7777, uid: have.st.uid, gid: have.st.gid, mtime: have.st.mtime }
          : { name: p, type: 'directory', mode: 0o755, uid: owner?.uid ?? 0, gid: owner?.gid ?? 0, mtime: new Date() });
      }
    }
    const all = [...parents.values(), ...entries.filter((e) => e.name !== '' || e.archive)].filter((e) => e.name !== '' || e.archive);
    const contentHash = await hashEntries(all);
    const createdBy = `/bin/sh -c #(nop) ${what} ${ins.flags.length ? ins.flags.map((f) => `--${f.name}=${f.value ?? ''}`).join(' ') + ' ' : ''}${fromId ? `from ${fromId} ` : ''}${isAdd ? 'file' : 'file'}:${contentHash.slice(7)} in ${'/' + resolvedDest.join('/')} `;
    const key = this.cacheKey(stage, createdBy, contentHash);
    if (this.cacheHit(run, stage, key)) return;
    const layer = await this.register(stage, packEntries(all));
    stage.imageId = this.record(stage, layer, createdBy, key, '');
  }

  // ---- images and the cache ----------------------------------------------------------------

  private cacheKey(stage: Stage, createdBy: string, content: string | null): string {
    const config = normalizeContainerConfig(stage.config);
    return 'sha256:' + createHash('sha256').update(JSON.stringify([stage.imageId ?? 'scratch', createdBy, config, stage.author ?? '', content ?? ''])).digest('hex');
  }

  private cacheHit(run: Run, stage: Stage, key: string): boolean {
    if (run.opts.noCache) return false;
    const imageId = this.cache.take(key, rfc3339Nano());
    if (!imageId) return false;
    run.out({ stream: ' ---> Using cache\n' });
    stage.imageId = imageId;
    stage.config = normalizeContainerConfig(structuredClone(this.d.images.resolve(imageId).config.config ?? {}));
    return true;
  }

  private async register(stage: Stage, tar: Readable): Promise<LayerHandle | null> {
    const parent = stage.imageId ? this.d.images.resolve(stage.imageId) : null;
    const top = parent?.chain.length ? parent.chain[parent.chain.length - 1]! : null;
    return this.d.images.layers.register(tar, top);
  }

  /** Records the step's image (parent = the stage's image) and its cache key; releases the layer. */
  private record(stage: Stage, layer: LayerHandle | null, createdBy: string, key: string, containerId: string): string {
    const parent = stage.imageId ? this.d.images.resolve(stage.imageId) : null;
    const pc: ImageConfigJSON = parent?.config ?? { architecture: goArch(), os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, history: [] };
    const created = rfc3339Nano();
    const config = normalizeContainerConfig(stage.config);
    const author = stage.author ?? pc.author;
    const doc: Record<string, unknown> = {
      architecture: pc.architecture || goArch(),
      ...(author && { author }),
      config,
      ...(containerId && { container: containerId }),
      container_config: { ...config, Cmd: ['/bin/sh', '-c', createdBy.replace(/^\/bin\/sh -c /, '')] },
      created,
      docker_version: BERTH_VERSION,
      history: [...(pc.history ?? []), { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }],
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [...(pc.rootfs?.diff_ids ?? []), ...(layer ? [layer.diffId] : [])] },
    };
    let handles: LayerHandle[] = [];
    try {
      handles = (parent?.chain ?? []).map((c) => this.d.images.layers.acquire(c));
    } catch (err) {
      layer?.release();
      for (const h of handles) h.release();
      throw err;
    }
    if (layer) handles.push(layer);
    const id = this.d.images.createImage(Buffer.from(JSON.stringify(doc)), handles, parent ? { parent: parent.id } : {});
    this.cache.put(key, id, created);
    stage.imageId = id;
    stage.config = config;
    return id;
  }

  private imageView(imageId: string | null): FsView {
    if (!imageId) return layeredView([], this.d.diffOps);
    return layeredView(this.d.images.lowerDirs(imageId), this.d.diffOps);
  }

  /** --chown user[:group] by name (the image's /etc/passwd and /etc/group) or number. */
  private async owner(view: FsView, spec: string): Promise<Owner> {
    const [u = '', g] = spec.split(':');
    const lookup = async (file: string, name: string, what: string): Promise<{ id: number; gid?: number }> => {
      if (/^\d+$/.test(name)) return { id: Number(name) };
      const e = await view.lstat(['etc', file]);
      const text = e && e.st.isFile() ? await fsp.readFile(e.path, 'utf8') : '';
      for (const line of text.split('\n')) {
        const f = line.split(':');
        if (f[0] === name && f[2] !== undefined) return { id: Number(f[2]), ...(f[3] !== undefined && { gid: Number(f[3]) }) };
      }
      throw new InvalidParameter(`unable to convert uid/gid chown string to host mapping: can't find ${what} for ${name}: no such ${what === 'uid' ? 'user' : 'group'}`);
    };
    const user = await lookup('passwd', u, 'uid');
    const gid = g !== undefined && g !== '' ? (await lookup('group', g, 'gid')).id : /^\d+$/.test(u) ? user.id : user.gid ?? user.id;
    return { uid: user.id, gid };
  }
}

// ---- helpers ----------------------------------------------------------------------------------

function valueOf(m: Map<string, string | undefined>, name: string): string | undefined {
  return m.get(name);
}

/** The `--label` options' extra step. */
function labelStep(labels: Record<string, string>): Instruction | null {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return null;
  const args = keys.map((k) => `${quoteIfNeeded(k)}=${quoteIfNeeded(labels[k]!)}`).join(' ');
  return { cmd: 'label', original: `LABEL ${args}`, line: 0, flags: [], args, json: null };
}

function quoteIfNeeded(s: string): string {
  return /^[A-Za-z0-9_.\-/:]+$/.test(s) ? s : JSON.stringify(s);
}

/** What the history shows after `#(nop)`: moby prints the instruction with its expanded words. */
function nopText(ins: Instruction): string {
  return `${ins.cmd.toUpperCase()} ${ins.json ? JSON.stringify(ins.json) : ins.args}`;
}

/**
 * The credentials X-Registry-Config holds for a registry domain (moby's ResolveAuthConfig):
 * Docker Hub's under its index address, others under their host with or without a scheme.
 */
function authFor(configs: Record<string, AuthConfig>, domain: string): AuthConfig {
  if (domain === 'docker.io') return configs[DOCKER_HUB_INDEX] ?? {};
  for (const [key, auth] of Object.entries(configs)) {
    if (key.replace(/^[a-z]+:\/\//i, '').split('/')[0] === domain) return auth;
  }
  return {};
}

function checkPlatform(p: string): void {
  const [os, arch] = p.toLowerCase().split('/');
  if (os !== 'linux' || (arch !== undefined && arch !== goArch())) {
    throw new InvalidParameter(`berth builds for linux/${goArch()} only: platform ${p} is not supported`);
  }
}

/** ADD <url>: fetched with a bound, so an unreachable server fails the step instead of hanging it. */
async function download(url: string): Promise<{ body: Buffer; mtime: Date }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(URL_TIMEOUT_MS), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? errorMessage(err);
    throw new InvalidParameter(`ADD failed: Get "${url}": ${why === 'ECONNREFUSED' ? 'connect: connection refused' : why}`);
  }
  if (!res.ok) throw new InvalidParameter(`ADD failed: failed to GET ${url} with status ${res.status} ${res.statusText}`);
  const body = Buffer.from(await res.arrayBuffer());
  const lm = res.headers.get('last-modified');
  const t = lm ? Date.parse(lm) : NaN;
  return { body, mtime: Number.isNaN(t) ? new Date() : new Date(t) };
}
