// --log-opt of the json-file and local drivers, as moby's jsonfilelog and local read them: the
// keys each accepts (checked at create), max-size/max-file/compress (checked when the logger
// starts; local rotates by default: 20 MiB, 5 files, compressed), and json-file's "extra
// attributes" every record carries (labels, labels-regex, env, env-regex, tag). berth keeps a
// local log in json-file form, so both are read alike.
import { hostname } from 'node:os';
import { InvalidParameter, SystemError } from '../../errors';
import type { Json } from './config';

const JSON_FILE_OPTS = ['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag'];
const LOCAL_OPTS = ['max-file', 'max-size', 'compress'];

/** dockerd's ValidateLogOpts at create: a key the driver does not know is a 400. */
export function validateLogOpts(logConfig: Json | undefined): void {
  const type = String(logConfig?.Type ?? 'json-file');
  for (const key of Object.keys(logConfig?.Config ?? {})) {
    if (type === 'json-file' && !JSON_FILE_OPTS.includes(key)) throw new InvalidParameter(`unknown log opt '${key}' for json-file log driver`);
    if (type === 'local' && !LOCAL_OPTS.includes(key)) throw new InvalidParameter(`unknown log opt '${key}' for log driver local`);
  }
}

/** moby's local driver: rotation on by default (20 MiB, 5 files, compressed), its own wording. */
function localSettings(cfg: Record<string, string>): LogSettings {
  let maxSize = 20 * 1024 * 1024;
  let maxFiles = 5;
  let compress = true;
  if (cfg['max-size'] !== undefined) {
    try { maxSize = fromHumanSize(cfg['max-size']); } catch (err) { throw new Error(`invalid value for max-size: ${cfg['max-size']}: ${(err as Error).message}`); }
  }
  if (cfg['max-file'] !== undefined) {
    if (!/^[+-]?\d+$/.test(cfg['max-file'])) throw new Error(`invalid value for max-file: ${cfg['max-file']}: strconv.Atoi: parsing ${JSON.stringify(cfg['max-file'])}: invalid syntax`);
    maxFiles = Number(cfg['max-file']);
  }
  if (cfg.compress !== undefined) {
    try { compress = parseBool(cfg.compress); } catch (err) { throw new Error(`invalid boolean value for compress: ${(err as Error).message}`); }
  }
  if (maxSize < 0) throw new Error('max size should be a positive number');
  if (maxFiles < 0) throw new Error('max file count cannot be less than 0');
  if (compress && maxFiles <= 1) throw new Error('compression cannot be enabled when max file count is 1');
  // max-file 0 keeps every file in moby; the monitor keeps at least one
  return { maxSize, maxFiles: Math.max(1, maxFiles), compress };
}

/** go-units FromHumanSize (decimal: 10m is 10,000,000 bytes), as json-file's max-size. */
export function fromHumanSize(s: string): number {
  const m = /^(\d+(?:\.\d+)*) ?([kmgtp])?i?b?$/i.exec(s);
  if (!m) throw new Error(`invalid size: '${s}'`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m[2] ?? '').toLowerCase() as 'k'];
  return Math.floor(Number(m[1]) * mult);
}

/** Go's strconv.ParseBool. */
function parseBool(s: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  throw new Error(`strconv.ParseBool: parsing ${JSON.stringify(s)}: invalid syntax`);
}

/** What the logger needs to know of the container for attributes and the tag template. */
export interface LogInfo {
  id: string;
  name: string;
  imageId: string;
  imageName: string;
  labels: Record<string, string>;
  env: string[];
  command: string[];
}

export interface LogSettings {
  maxSize: number;
  maxFiles: number;
  compress: boolean;
  /** The JSON object written as "attrs" into every record; undefined when there is none. */
  attrs?: string;
}

/** logger.Info's template fields (docker run --log-opt tag='{{.Name}}/{{.ID}}'). */
function tagOf(template: string, info: LogInfo): string {
  const fields: Record<string, () => string> = {
    ID: () => info.id.slice(0, 12),
    FullID: () => info.id,
    Name: () => info.name.replace(/^\//, ''),
    // moby shortens the image ID with its "sha256:" prefix, to 12 characters in all
    ImageID: () => info.imageId.slice(0, 12),
    ImageFullID: () => info.imageId,
    ImageName: () => info.imageName,
    DaemonName: () => 'docker',
    Hostname: () => hostname(),
    Command: () => info.command.join(' '),
  };
  return template.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_all, f: string) => {
    const get = fields[f];
    if (!get) throw new Error(`template: log-tag:1:2: executing "log-tag" at <.${f}>: can't evaluate field ${f} in type *logger.Info`);
    return get();
  });
}

/** moby's Info.ExtraAttributes plus the tag: the labels and env variables the options name. */
export function extraAttributes(cfg: Record<string, string>, info: LogInfo): Record<string, string> {
  const extra: Record<string, string> = {};
  if (cfg.labels) {
    for (const l of cfg.labels.split(',')) if (Object.hasOwn(info.labels, l)) extra[l] = info.labels[l]!;
  }
  if (cfg['labels-regex']) {
    const re = new RegExp(cfg['labels-regex']);
    for (const [k, v] of Object.entries(info.labels)) if (re.test(k)) extra[k] = v;
  }
  const env = new Map<string, string>();
  for (const e of info.env) {
    const i = e.indexOf('=');
    if (i >= 0) env.set(e.slice(0, i), e.slice(i + 1));
  }
  if (cfg.env) {
    for (const k of cfg.env.split(',')) if (env.has(k)) extra[k] = env.get(k)!;
  }
  if (cfg['env-regex']) {
    const re = new RegExp(cfg['env-regex']);
    for (const [k, v] of env) if (re.test(k)) extra[k] = v;
  }
  const tag = cfg.tag ? tagOf(cfg.tag, info) : '';
  if (tag) extra.tag = tag;
  return extra;
}

/**
 * The json-file logger's settings, with the errors dockerd's logger gives when it starts
 * (the start fails with "failed to create task for container: failed to initialize logging
 * driver: ...").
 */
export function logSettings(cfg: Record<string, string>, info: LogInfo, type = 'json-file'): LogSettings {
  try {
    if (type === 'local') return localSettings(cfg);
    let maxSize = 0;
    if (cfg['max-size'] !== undefined) {
      maxSize = fromHumanSize(cfg['max-size']);
      if (maxSize <= 0) throw new Error('max-size must be a positive number');
    }
    let maxFiles = 1;
    if (cfg['max-file'] !== undefined) {
      if (!/^[+-]?\d+$/.test(cfg['max-file'])) throw new Error(`strconv.Atoi: parsing ${JSON.stringify(cfg['max-file'])}: invalid syntax`);
      maxFiles = Number(cfg['max-file']);
      if (maxFiles < 1) throw new Error('max-file cannot be less than 1');
    }
    let compress = false;
    if (cfg.compress !== undefined) {
      compress = parseBool(cfg.compress);
      if (compress && (maxFiles === 1 || cfg['max-size'] === undefined)) {
        throw new Error('compress cannot be true when max-file is less than 2 or max-size is not set');
      }
    }
    const extra = extraAttributes(cfg, info);
    // Go's json.Marshal of a map: keys sorted
    const keys = Object.keys(extra).sort();
    const attrs = keys.length ? goJson(Object.fromEntries(keys.map((k) => [k, extra[k]]))) : undefined;
    return { maxSize, maxFiles, compress, ...(attrs !== undefined && { attrs }) };
  } catch (err) {
    throw new SystemError(`failed to create task for container: failed to initialize logging driver: ${(err as Error).message}`);
  }
}

/** JSON as Go's encoder writes it: <, >, & and U+2028/2029 escaped (the monitor's records are). */
function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's url.QueryEscape (space as '+'), as dockerd writes --details attributes. */
export function queryEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, '+');
}
