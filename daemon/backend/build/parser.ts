// The Dockerfile parser of the classic builder (moby's buildkit/frontend/dockerfile/parser as
// the legacy builder uses it): parser directives, comments, line continuations with the
// escape character, instructions with their `--flags`, JSON (exec) vs shell forms, and the
// shell-word lexer that expands $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} in the
// instructions that take it.
import { InvalidParameter } from '../../errors';

export interface Instruction {
  /** Lower-case instruction name: `run`, `copy`, ... */
  cmd: string;
  /** The instruction as written, continuations joined (what `Step N/M : ...` shows). */
  original: string;
  /** 1-based line the instruction starts on. */
  line: number;
  /** Leading `--name[=value]` flags, in order. */
  flags: Array<{ name: string; value: string | null }>;
  /** Everything after the flags, not expanded. */
  args: string;
  /** The exec (JSON array) form, when args is one. */
  json: string[] | null;
}

export interface Dockerfile {
  escape: string;
  instructions: Instruction[];
}

export const INSTRUCTIONS = new Set([
  'add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer',
  'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
]);

/** Instructions whose arguments may carry a JSON array (exec form). */
const JSON_FORMS = new Set(['add', 'cmd', 'copy', 'entrypoint', 'run', 'shell', 'volume']);
/** Instructions buildkit lets carry here-documents (the classic builder refuses them). */
const HEREDOC_FORMS = new Set(['add', 'copy', 'run']);

const DIRECTIVE = /^#\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*$/;
const HEREDOC = /(?:^|\s)<<-?\s*["']?[A-Za-z_][A-Za-z0-9_]*["']?(?:\s|$)/;

export const BUILDKIT_REQUIRED = 'requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled';

function parseError(line: number, msg: string): InvalidParameter {
  return new InvalidParameter(`dockerfile parse error on line ${line}: ${msg}`);
}

export interface ParseOptions {
  /** The error for an instruction name that is not a Dockerfile's (default: moby's parse error). */
  unknown?: (word: string, line: number) => Error;
  /** No instruction at all is fine (commit/import changes); a Dockerfile must have one. */
  allowEmpty?: boolean;
}

/** Parses a whole Dockerfile. Throws InvalidParameter with moby's wording on a bad file. */
export function parseDockerfile(text: string, opts: ParseOptions = {}): Dockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let i = 0;
  // parser directives: only at the very top, before any comment, blank line or instruction
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const name = m[1]!.toLowerCase();
    if (seen.has(name)) throw parseError(i + 1, `only one ${name} parser directive can be used`);
    seen.add(name);
    if (name === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw parseError(i + 1, `invalid escape token '${m[2]}' does not match ` + '` or \\');
      escape = m[2]!;
    }
  }
  const continuation = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);
  const instructions: Instruction[] = [];
  for (; i < lines.length; i++) {
    const first = lines[i]!.replace(/^[ \t]+/, '');
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let line = first;
    let more = continuation.test(line);
    if (more) line = line.replace(continuation, '');
    while (more && i + 1 < lines.length) {
      const next = lines[++i]!;
      const trimmed = next.replace(/^[ \t]+/, '');
      if (trimmed.startsWith('#')) continue; // comments inside a continued instruction
      if (trimmed === '') continue; // empty continuation lines (deprecated, still accepted)
      more = continuation.test(next);
      line += more ? next.replace(continuation, '') : next;
    }
    instructions.push(parseInstruction(line.replace(/[ \t]+$/, ''), start, opts));
  }
  if (instructions.length === 0 && !opts.allowEmpty) throw new InvalidParameter('the Dockerfile (Dockerfile) cannot be empty');
  return { escape, instructions };
}

function parseInstruction(line: string, lineNo: number, opts: ParseOptions): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
  const cmd = m[1]!.toLowerCase();
  if (!INSTRUCTIONS.has(cmd)) throw opts.unknown?.(m[1]!, lineNo) ?? parseError(lineNo, `unknown instruction: ${m[1]!.toUpperCase()}`);
  let rest = m[2]!;
  const flags: Instruction['flags'] = [];
  if (cmd !== 'onbuild') {
    for (;;) {
      const f = /^--([A-Za-z][A-Za-z0-9-]*)(?:=(\S*))?(?:\s+|$)/.exec(rest);
      if (!f) break;
      flags.push({ name: f[1]!, value: f[2] ?? null });
      rest = rest.slice(f[0].length);
    }
  }
  if (HEREDOC_FORMS.has(cmd) && !rest.startsWith('[') && HEREDOC.test(rest)) {
    throw parseError(lineNo, `the heredoc syntax ${BUILDKIT_REQUIRED}`);
  }
  let json: string[] | null = null;
  if (JSON_FORMS.has(cmd) && rest.startsWith('[')) json = maybeJSON(rest);
  return { cmd, original: line, line: lineNo, flags, args: rest.trim(), json };
}

/** moby's parseMaybeJSON: a JSON array of strings, or null (then it is the shell form). */
function maybeJSON(s: string): string[] | null {
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch { /* the shell form */ }
  return null;
}

// ---- the shell-word lexer (moby's shell.Lex) -------------------------------------------------

export type Lookup = (name: string) => string | undefined;

/** One word, quotes removed and variables expanded; whitespace kept (WORKDIR, USER, ...). */
export function expandWord(s: string, env: Lookup, escape = '\\'): string {
  return lex(s, env, escape, true).join('');
}

/** Words split on unquoted whitespace, quotes removed, variables expanded (EXPOSE, ENV k=v, COPY). */
export function expandWords(s: string, env: Lookup, escape = '\\'): string[] {
  return lex(s, env, escape, false);
}

function lex(s: string, env: Lookup, escape: string, single: boolean): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === escape) {
      if (i + 1 < s.length) cur += s[++i];
      has = true;
    } else if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new InvalidParameter('unexpected end of statement while looking for matching single-quote');
      cur += s.slice(i + 1, end);
      i = end;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        const d = s[j]!;
        if (d === escape && j + 1 < s.length) {
          const n = s[j + 1]!;
          if (n === '"' || n === '$' || n === escape) cur += s[++j];
          else cur += d;
        } else if (d === '$') j = variable(s, j, env, escape, (v) => (cur += v));
        else cur += d;
      }
      if (j >= s.length) throw new InvalidParameter('unexpected end of statement while looking for matching double-quote');
      i = j;
      has = true;
    } else if (c === '$') {
      i = variable(s, i, env, escape, (v) => (cur += v));
      has = true;
    } else if (!single && (c === ' ' || c === '\t' || c === '\n')) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has || single) out.push(cur);
  return out;
}

/** Expands the variable at s[i] === '$'; returns the index of its last character. */
function variable(s: string, i: number, env: Lookup, escape: string, emit: (v: string) => void): number {
  if (s[i + 1] === '{') {
    // find the matching brace (a default may itself hold ${...})
    let depth = 0;
    let end = -1;
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === escape) { j++; continue; }
      if (s[j] === '{') depth++;
      else if (s[j] === '}' && --depth === 0) { end = j; break; }
    }
    if (end < 0) throw new InvalidParameter("missing '}' in variable substitution");
    const body = s.slice(i + 2, end);
    const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:(:?[-+?])([\s\S]*))?$/.exec(body);
    if (!m) throw new InvalidParameter(`failed to process "${s}": unsupported modifier (${body}) in substitution`);
    const val = env(m[1]!);
    const word = m[3] !== undefined ? expandWord(m[3], env, escape) : '';
    switch (m[2]) {
      case undefined: emit(val ?? ''); break;
      case ':-': emit(val ? val : word); break;
      case '-': emit(val !== undefined ? val : word); break;
      case ':+': emit(val ? word : ''); break;
      case '+': emit(val !== undefined ? word : ''); break;
      case ':?': case '?':
        if (val === undefined || (m[2] === ':?' && val === '')) throw new InvalidParameter(`failed to process "${s}": ${m[1]}: ${word || 'is not allowed to be unset'}`);
        emit(val);
        break;
    }
    return end;
  }
  const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i + 1));
  if (!m) {
    emit('$');
    return i;
  }
  emit(env(m[0]) ?? '');
  return i + m[0].length;
}

/**
 * `K=V K2="v 2"` pairs, or the legacy `K the rest is the value` (ENV, LABEL, ARG without
 * `=` take one pair), expanded.
 */
export function keyValues(args: string, what: string, env: Lookup, escape = '\\'): Array<[string, string]> {
  if (args.trim() === '') throw new InvalidParameter(`${what} requires at least one argument`);
  const words = expandWords(args, env, escape);
  if (!(words[0] ?? '').includes('=')) {
    const legacy = /^(\S+)\s+([\s\S]*)$/.exec(args.trim());
    if (!legacy) throw new InvalidParameter(`${what} must have two arguments`);
    return [[legacy[1]!, expandWord(legacy[2]!.trim(), env, escape)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw new InvalidParameter(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) throw new InvalidParameter(`${what} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)] as [string, string];
  });
}

/** The value of a flag (`--from=x`), checking that only `allowed` flags were given. */
export function flagValues(ins: Instruction, allowed: readonly string[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const f of ins.flags) {
    if (!allowed.includes(f.name)) {
      // RUN takes no flag in the classic builder; --mount, --network ... are BuildKit's
      throw new InvalidParameter(ins.cmd === 'run' ? `the --${f.name} option ${BUILDKIT_REQUIRED}` : `Unknown flag: ${f.name}`);
    }
    out.set(f.name, f.value);
  }
  return out;
}
