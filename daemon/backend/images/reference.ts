// Image references as Docker parses them (distribution/reference): one canonical form is
// stored (`docker.io/library/busybox:latest`), the familiar form is shown (`busybox:latest`).
import { InvalidParameter } from '../../errors';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const NAME_TOTAL_LENGTH_MAX = 255;

// The grammar of distribution/reference/regexp.go, anchored.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;
const referenceRegexp = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const tagRegexp = new RegExp(`^${tagPattern}$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;
const sha256Digest = /^sha256:[a-f0-9]{64}$/;

/** A named reference in canonical form: `name` always carries its domain. */
export interface Reference {
  /** e.g. `docker.io/library/busybox`, `localhost:5000/a/b` */
  readonly name: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** What a user may type where an image is expected: an ID (digest) or a named reference. */
export type AnyReference = { kind: 'id'; id: string } | { kind: 'named'; ref: Reference };

/** Docker's ParseNormalizedNamed: `busybox` → `docker.io/library/busybox` (no default tag). */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifier.test(s)) {
    throw new InvalidParameter(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidParameter(`invalid reference format: repository name (${remoteName}) must be lowercase`);
  }
  return parse(`${domain}/${remainder}`);
}

/** Docker's ParseAnyReference: a 64-hex ID or `sha256:<64>` is an ID, anything else a name. */
export function parseAnyReference(s: string): AnyReference {
  if (anchoredIdentifier.test(s)) return { kind: 'id', id: `sha256:${s}` };
  if (sha256Digest.test(s)) return { kind: 'id', id: s };
  return { kind: 'named', ref: parseNormalizedNamed(s) };
}

function parse(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === '') throw new InvalidParameter('repository name must have at least one component');
    if (referenceRegexp.test(s.toLowerCase())) throw new InvalidParameter('invalid reference format: repository name must be lowercase');
    throw new InvalidParameter('invalid reference format');
  }
  const [, name, tag, digest] = m;
  if (name!.length > NAME_TOTAL_LENGTH_MAX) {
    throw new InvalidParameter(`repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  if (digest !== undefined && !sha256Digest.test(digest)) throw new InvalidParameter('invalid reference format');
  return { name: name!, ...(tag !== undefined && { tag }), ...(digest !== undefined && { digest }) };
}

function splitDockerDomain(name: string): [string, string] {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i < 0 ? '' : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return [domain, remainder];
}

/** `latest` when the reference has neither tag nor digest (Docker's TagNameOnly). */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

export function withTag(ref: Reference, tag: string): Reference {
  if (!tagRegexp.test(tag)) throw new InvalidParameter('invalid tag format');
  return { name: ref.name, tag };
}

/** `docker.io/library/busybox:latest`: the form stored in SQLite. */
export function canonicalString(ref: Reference): string {
  return ref.name + (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest !== undefined ? `@${ref.digest}` : '');
}

/** `busybox`, `foo/bar`, `localhost:5000/x`: the name as Docker shows it. */
export function familiarName(name: string): string {
  if (!name.startsWith(DEFAULT_DOMAIN + '/')) return name;
  const remainder = name.slice(DEFAULT_DOMAIN.length + 1);
  if (remainder.startsWith(OFFICIAL_REPO_PREFIX) && !remainder.slice(OFFICIAL_REPO_PREFIX.length).includes('/')) {
    return remainder.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return remainder;
}

/** `busybox:latest`, `foo/bar:1`, `localhost:5000/x@sha256:...` */
export function familiarString(ref: Reference): string {
  return canonicalString({ ...ref, name: familiarName(ref.name) });
}

/**
 * Familiar strings of `refs` in Docker's order: its reference store sorts by the full
 * canonical string, so `docker.io/clients/x:1` comes before `docker.io/library/busybox:latest`
 * (clients such as docker-py's `Image.save(named=True)` take the first tag).
 */
export function familiarStrings(refs: Reference[]): string[] {
  return refs.map(canonicalString).map((s, i) => [s, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, i]) => familiarString(refs[i]!));
}

/** Parses a stored canonical reference (already validated when it was stored). */
export function parseCanonical(s: string): Reference {
  return parse(s);
}

/** Docker's reference.FamiliarMatch: a path.Match glob against `name:tag`, then against `name`. */
export function familiarMatch(pattern: string, ref: Reference): boolean {
  const re = globToRegExp(pattern);
  return re.test(familiarString(ref)) || re.test(familiarName(ref.name));
}

const globCache = new Map<string, RegExp>();

/** Go's path.Match syntax: `*` and `?` never match `/`; `[...]` classes with `^` and ranges; `\` escapes. */
export function globToRegExp(pattern: string): RegExp {
  const cached = globCache.get(pattern);
  if (cached) return cached;
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= pattern.length) throw new InvalidParameter('syntax error in pattern');
      out += escapeRegExp(pattern[++i]!);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new InvalidParameter('syntax error in pattern');
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') throw new InvalidParameter('syntax error in pattern');
      const cls = body.replace(/[\]\\^]/g, (ch) => '\\' + ch);
      out += negate ? `(?!/)[^${cls}]` : `[${cls}]`;
      i = end;
    } else out += escapeRegExp(c);
  }
  const re = new RegExp(`^${out}$`);
  globCache.set(pattern, re);
  return re;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** True when `s` could be an image ID prefix: hex, optionally after `sha256:`. */
export function idPrefixOf(s: string): string | undefined {
  const hex = s.startsWith('sha256:') ? s.slice(7) : s;
  return /^[a-f0-9]{1,64}$/.test(hex) ? hex : undefined;
}

/** The 12-character short form of an ID (`sha256:` dropped). */
export function shortId(id: string): string {
  return (id.startsWith('sha256:') ? id.slice(7) : id).slice(0, 12);
}
