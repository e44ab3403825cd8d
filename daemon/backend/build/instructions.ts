// The Dockerfile instructions that change only the image config (ENV, LABEL, EXPOSE, VOLUME,
// WORKDIR, USER, STOPSIGNAL, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD), as moby's
// dispatchers apply them: one implementation for the classic builder's steps and for the
// `--change` lines of docker commit and import (moby's BuildFromConfig). Also ARG's
// declarations and how a build arg's value is chosen.
import { InvalidParameter } from '../../errors';
import type { ContainerConfig } from '../images/config';
import { parseSignal } from '../containers/config';
import { parseGoDuration } from '../filters';
import { expandWord, expandWords, flagValues, keyValues, parseDockerfile, type Instruction, type Lookup } from './parser';
import { pathParts } from './rootfs';

/** What the config instructions read and write: the config, and whether CMD was set here. */
export interface ConfigState {
  config: ContainerConfig;
  /** A CMD given in this build stage (or these changes): a later ENTRYPOINT keeps it. */
  cmdSet: boolean;
}

export const CONFIG_INSTRUCTIONS: ReadonlySet<string> = new Set([
  'cmd', 'entrypoint', 'env', 'expose', 'healthcheck', 'label', 'onbuild', 'shell', 'stopsignal', 'user', 'volume', 'workdir',
]);

const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * Applies one config instruction to `state.config` (which it replaces field by field, never
 * sharing arrays or maps with the old value). `env` resolves $VAR in the words that expand.
 */
export function applyConfigInstruction(state: ConfigState, ins: Instruction, env: Lookup, escape = '\\'): void {
  const c = state.config;
  if (!CONFIG_INSTRUCTIONS.has(ins.cmd)) throw new InvalidParameter(`${ins.cmd.toUpperCase()} does not change the image config`);
  if (ins.cmd !== 'healthcheck') flagValues(ins, []);
  switch (ins.cmd) {
    case 'workdir': {
      const dir = expandWord(ins.args, env, escape);
      if (dir === '') throw new InvalidParameter('WORKDIR requires exactly one argument');
      c.WorkingDir = '/' + pathParts(dir.startsWith('/') ? dir : `${c.WorkingDir || '/'}/${dir}`).join('/');
      break;
    }
    case 'env': {
      const list = [...(c.Env ?? [])];
      for (const [k, v] of keyValues(ins.args, 'ENV', env, escape)) {
        const i = list.findIndex((e) => e.startsWith(k + '=') || e === k);
        if (i >= 0) list[i] = `${k}=${v}`;
        else list.push(`${k}=${v}`);
      }
      c.Env = list;
      break;
    }
    case 'label': {
      const labels = { ...(c.Labels ?? {}) };
      for (const [k, v] of keyValues(ins.args, 'LABEL', env, escape)) labels[k] = v;
      c.Labels = labels;
      break;
    }
    case 'expose': {
      const ports = { ...(c.ExposedPorts ?? {}) };
      const words = expandWords(ins.args, env, escape);
      if (words.length === 0) throw new InvalidParameter('EXPOSE requires at least one argument');
      for (const w of words) for (const p of exposedPorts(w)) ports[p] = {};
      c.ExposedPorts = ports;
      break;
    }
    case 'volume': {
      const list = ins.json ?? expandWords(ins.args, env, escape);
      if (list.length === 0) throw new InvalidParameter('VOLUME requires at least one argument');
      const volumes = { ...(c.Volumes ?? {}) };
      for (const v of list) {
        if (v.trim() === '') throw new InvalidParameter('VOLUME specified can not be an empty string');
        volumes[v] = {};
      }
      c.Volumes = volumes;
      break;
    }
    case 'user': {
      const u = expandWord(ins.args, env, escape);
      if (u === '') throw new InvalidParameter('USER requires exactly one argument');
      c.User = u;
      break;
    }
    case 'stopsignal': {
      const sig = expandWord(ins.args, env, escape);
      parseSignal(sig);
      c.StopSignal = sig;
      break;
    }
    case 'cmd':
      c.Cmd = commandLine(c, ins);
      state.cmdSet = true;
      break;
    case 'entrypoint':
      c.Entrypoint = ins.args === '' ? null : commandLine(c, ins);
      // a new ENTRYPOINT drops the CMD the base image had, not one set since
      if (!state.cmdSet) c.Cmd = null;
      break;
    case 'shell':
      if (!ins.json) throw new InvalidParameter('SHELL requires the arguments to be in JSON form');
      if (ins.json.length === 0) throw new InvalidParameter('SHELL requires at least one argument');
      c.Shell = ins.json;
      break;
    case 'healthcheck':
      c.Healthcheck = healthcheck(ins);
      break;
    case 'onbuild': {
      const inner = /^(\S+)/.exec(ins.args)?.[1]?.toUpperCase();
      if (!inner) throw new InvalidParameter('ONBUILD requires at least one argument');
      if (inner === 'ONBUILD') throw new InvalidParameter('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (inner === 'FROM' || inner === 'MAINTAINER') throw new InvalidParameter(`${inner} isn't allowed as an ONBUILD trigger`);
      parseDockerfile(ins.args); // an unknown trigger fails now, as moby's
      c.OnBuild = [...(c.OnBuild ?? []), ins.args];
      break;
    }
  }
}

/** CMD/ENTRYPOINT/RUN: the exec form as written, the shell form through the config's SHELL. */
export function commandLine(config: Pick<ContainerConfig, 'Shell'>, ins: Instruction): string[] {
  return ins.json ?? [...(config.Shell?.length ? config.Shell : DEFAULT_SHELL), ins.args];
}

/** ARG name[=default] ... (moby's parseArg); defaults expanded with `env`. */
export function argDecls(ins: Instruction, env: Lookup, escape = '\\'): Array<[string, string | undefined]> {
  if (ins.args.trim() === '') throw new InvalidParameter('ARG requires at least one argument');
  return ins.args.trim().split(/\s+/).map((w) => {
    const eq = w.indexOf('=');
    if (eq === 0) throw new InvalidParameter('ARG names can not be blank');
    if (eq < 0) return [w, undefined] as [string, string | undefined];
    return [w.slice(0, eq), expandWord(w.slice(eq + 1), env, escape)] as [string, string | undefined];
  });
}

/**
 * The value an ARG declaration gives `name`: a --build-arg wins, then the default written in
 * this declaration, then (for an ARG in a stage) the global ARG of that name before the
 * first FROM. undefined: declared without any value.
 */
export function argValue(name: string, written: string | undefined, buildArgs: Readonly<Record<string, string | null>>,
  globals?: ReadonlyMap<string, string | undefined>): string | undefined {
  const given = buildArgs[name];
  if (given != null) return given;
  if (written !== undefined) return written;
  return globals?.get(name);
}

/** `80`, `80/udp`, `8000-8002/tcp` → `80/tcp` ... (nat.ParsePortSpecs for EXPOSE). */
function exposedPorts(word: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(word);
  if (!m) throw new InvalidParameter(`invalid containerPort: ${word}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo > 65535 || hi > 65535 || hi < lo) throw new InvalidParameter(`invalid range specified for container port: ${word}`);
  const out: string[] = [];
  for (let p = lo; p <= hi; p++) out.push(`${p}/${(m[3] ?? 'tcp').toLowerCase()}`);
  return out;
}

/** HEALTHCHECK [--interval ...] CMD ... | NONE (moby's parseHealthcheck). */
function healthcheck(ins: Instruction): Record<string, unknown> {
  const flags = flagValues(ins, ['interval', 'timeout', 'start-period', 'start-interval', 'retries']);
  const m = /^(\S+)\s*([\s\S]*)$/.exec(ins.args);
  const kind = m?.[1]?.toUpperCase();
  if (kind === 'NONE') {
    if (m![2]!.trim() !== '' || flags.size > 0) throw new InvalidParameter('HEALTHCHECK NONE takes no arguments');
    return { Test: ['NONE'] };
  }
  if (kind !== 'CMD') throw new InvalidParameter(`Unknown type "${kind ?? ''}" in HEALTHCHECK (try CMD)`);
  const rest = m![2]!.trim();
  let json: string[] | null = null;
  if (rest.startsWith('[')) {
    try {
      const v = JSON.parse(rest) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) json = v as string[];
    } catch { /* shell form */ }
  }
  if (!json && rest === '') throw new InvalidParameter('Missing command after HEALTHCHECK CMD');
  const hc: Record<string, unknown> = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] };
  const dur = (name: string, key: string) => {
    const v = flags.get(name);
    if (v) hc[key] = interval(v, name);
  };
  dur('interval', 'Interval');
  dur('timeout', 'Timeout');
  dur('start-period', 'StartPeriod');
  dur('start-interval', 'StartInterval');
  const retries = flags.get('retries');
  if (retries) {
    if (!/^\d+$/.test(retries) || Number(retries) < 1) throw new InvalidParameter('--retries must be at least 1');
    hc.Retries = Number(retries);
  }
  return hc;
}

/** A healthcheck duration flag in nanoseconds (moby's parseOptInterval). */
function interval(v: string, name: string): number {
  const total = parseGoDuration(v);
  if (total === undefined) throw new InvalidParameter(`time: invalid duration "${v}" for --${name}`);
  if (total > 0 && total < 1e6) throw new InvalidParameter(`Interval "${name}" cannot be less than 1ms`);
  return Math.round(total);
}
