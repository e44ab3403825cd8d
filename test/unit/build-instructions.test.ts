// The config instructions the classic builder and `--change` share (build/instructions.ts),
// on parsed Dockerfile text: what each leaves in the image config, ENTRYPOINT's reset of an
// inherited CMD, ONBUILD triggers, the escape directive reaching the words, ARG scoping.
import t from 'tap';
import { applyConfigInstruction, argDecls, argValue, commandLine, type ConfigState } from '../../daemon/backend/build/instructions';
import { parseDockerfile } from '../../daemon/backend/build/parser';
import { normalizeContainerConfig, type ContainerConfig } from '../../daemon/backend/images/config';

/** Applies the instructions of `text` (a Dockerfile body, no FROM) to a copy of `base`. */
function apply(text: string, base: Partial<ContainerConfig> = {}, vars: Record<string, string> = {}): ConfigState {
  const df = parseDockerfile(text);
  const state: ConfigState = { config: normalizeContainerConfig(structuredClone(base)), cmdSet: false };
  const env = (name: string) => state.config.Env?.find((e) => e.startsWith(name + '='))?.slice(name.length + 1) ?? vars[name];
  for (const ins of df.instructions) applyConfigInstruction(state, ins, env, df.escape);
  return state;
}

t.test('ENTRYPOINT drops the CMD the base image had, but not a CMD set in this stage', async (t) => {
  const base = { Cmd: ['sh'], Entrypoint: null };
  t.same(apply('ENTRYPOINT ["/bin/echo"]\n', base).config.Cmd, null, 'inherited CMD ["sh"] is gone');
  const kept = apply('CMD ["hi"]\nENTRYPOINT ["/bin/echo"]\n', base).config;
  t.same([kept.Entrypoint, kept.Cmd], [['/bin/echo'], ['hi']], 'a CMD written before ENTRYPOINT stays');
  const after = apply('ENTRYPOINT ["/bin/echo"]\nCMD ["x"]\n', base).config;
  t.same(after.Cmd, ['x'], 'a CMD after the ENTRYPOINT is simply set');
  t.equal(apply('ENTRYPOINT\n', { Entrypoint: ['/old'] }).config.Entrypoint, null, 'an empty ENTRYPOINT clears it');
});

t.test('CMD, ENTRYPOINT and RUN in shell form go through SHELL', async (t) => {
  const s = apply('SHELL ["/bin/bash", "-ec"]\nCMD echo $HOME\nENTRYPOINT exec top\n');
  t.same(s.config.Cmd, ['/bin/bash', '-ec', 'echo $HOME'], 'the shell form is not expanded: the shell does that');
  t.same(s.config.Entrypoint, ['/bin/bash', '-ec', 'exec top']);
  t.same(commandLine({}, parseDockerfile('RUN a && b\n').instructions[0]!), ['/bin/sh', '-c', 'a && b'], 'the default shell');
  t.throws(() => apply('SHELL /bin/bash\n'), { message: 'SHELL requires the arguments to be in JSON form' });
});

t.test('ONBUILD records the trigger as written and refuses what cannot be one', async (t) => {
  const s = apply('ONBUILD RUN echo "$X"\nONBUILD COPY . /app\n');
  t.same(s.config.OnBuild, ['RUN echo "$X"', 'COPY . /app'], 'in order, unexpanded: the child build expands them');
  t.throws(() => apply('ONBUILD ONBUILD RUN x\n'), { message: 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed' });
  t.throws(() => apply('ONBUILD FROM busybox\n'), { message: 'FROM isn\'t allowed as an ONBUILD trigger' });
  t.throws(() => apply('ONBUILD MAINTAINER me\n'), { message: 'MAINTAINER isn\'t allowed as an ONBUILD trigger' });
  t.throws(() => apply('ONBUILD FROBNICATE x\n'), /unknown instruction: FROBNICATE/, 'an unknown trigger fails when declared, not in the child');
  t.throws(() => apply('ONBUILD\n'), { message: 'ONBUILD requires at least one argument' });
});

t.test('the escape directive reaches the words of every instruction', async (t) => {
  const s = apply('# escape=`\nENV A=1 B=`$A C=$A\nLABEL path=c:\\dir\nWORKDIR c:\\w`\n  x\n');
  t.ok(s.config.Env!.includes('B=$A'), 'backtick escapes $');
  t.ok(s.config.Env!.includes('C='), 'a pair does not see the pairs before it in the same ENV (Docker\'s rule)');
  t.same(s.config.Labels, { path: 'c:\\dir' }, 'backslash is an ordinary character');
  t.equal(s.config.WorkingDir, '/c:\\w  x', 'the backtick continues the line');
  const plain = apply('ENV B=\\$A\nLABEL path=c:\\\\dir\n');
  t.ok(plain.config.Env!.includes('B=$A'));
  t.same(plain.config.Labels, { path: 'c:\\dir' }, 'without the directive a backslash escapes');
});

t.test('${VAR:-default} and ${VAR:+alt} against the config\'s ENV, and the words each instruction takes', async (t) => {
  const s = apply([
    'ENV EMPTY= SET=v',
    'ENV A=${UNSET:-dflt} B=${EMPTY:-dflt} C=${SET:+alt} D=${UNSET:+alt}',
    'EXPOSE ${PORT:-80} 53/udp 8000-8001',
    'VOLUME /one "/two words"',
    'USER ${SET}:${GROUP:-staff}',
    'WORKDIR /srv',
    'WORKDIR ${SET}/../app',
    'STOPSIGNAL SIGRTMIN+3',
    '',
  ].join('\n'));
  const c = s.config;
  t.same(c.Env, ['EMPTY=', 'SET=v', 'A=dflt', 'B=dflt', 'C=alt', 'D=']);
  t.same(c.ExposedPorts, { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
  t.same(c.Volumes, { '/one': {}, '/two words': {} });
  t.equal(c.User, 'v:staff');
  t.equal(c.WorkingDir, '/srv/app', 'relative WORKDIR joins the last one, cleaned');
  t.equal(c.StopSignal, 'SIGRTMIN+3');
  t.throws(() => apply('EXPOSE 80/tcpx\n'), { message: 'invalid containerPort: 80/tcpx' });
  t.throws(() => apply('EXPOSE 90-80\n'), { message: 'invalid range specified for container port: 90-80' });
  t.throws(() => apply('STOPSIGNAL SIGNOPE\n'), { message: 'Invalid signal: SIGNOPE' });
  t.throws(() => apply('ENV --x A=1\n'), { message: 'Unknown flag: x' });
});

t.test('HEALTHCHECK: CMD forms, NONE, durations and retries', async (t) => {
  t.same(apply('HEALTHCHECK --interval=1m30s --timeout=500ms --start-period=2s --retries=3 CMD ["curl", "-f", "x"]\n').config.Healthcheck,
    { Test: ['CMD', 'curl', '-f', 'x'], Interval: 90e9, Timeout: 500e6, StartPeriod: 2e9, Retries: 3 });
  t.same(apply('HEALTHCHECK CMD wget -q x || exit 1\n').config.Healthcheck, { Test: ['CMD-SHELL', 'wget -q x || exit 1'] });
  t.same(apply('HEALTHCHECK NONE\n').config.Healthcheck, { Test: ['NONE'] });
  t.throws(() => apply('HEALTHCHECK --interval=5 CMD true\n'), { message: 'time: invalid duration "5" for --interval' });
  t.throws(() => apply('HEALTHCHECK --interval=10us CMD true\n'), { message: 'Interval "interval" cannot be less than 1ms' });
  t.throws(() => apply('HEALTHCHECK --retries=0 CMD true\n'), { message: '--retries must be at least 1' });
  t.throws(() => apply('HEALTHCHECK RUN true\n'), { message: 'Unknown type "RUN" in HEALTHCHECK (try CMD)' });
});

t.test('ARG: declarations, and which value wins (build arg, default, global ARG)', async (t) => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  const decls = argDecls(parseDockerfile('ARG A B=2 C=${B:-x}y\n').instructions[0]!, env({ B: 'from-env' }));
  t.same(decls, [['A', undefined], ['B', '2'], ['C', 'from-envy']], 'defaults expand what is in scope when declared');
  t.throws(() => argDecls(parseDockerfile('ARG =v\n').instructions[0]!, env({})), { message: 'ARG names can not be blank' });
  t.throws(() => argDecls(parseDockerfile('ARG\n').instructions[0]!, env({})), { message: 'ARG requires at least one argument' });

  const globals = new Map<string, string | undefined>([['V', 'global'], ['ONLY', undefined]]);
  t.equal(argValue('V', 'default', { V: 'cli' }, globals), 'cli', '--build-arg wins');
  t.equal(argValue('V', 'default', {}, globals), 'default', 'then the default written in the stage');
  t.equal(argValue('V', undefined, {}, globals), 'global', 'a bare ARG in a stage takes the global ARG\'s value');
  t.equal(argValue('V', undefined, {}), undefined, 'without a global declaration a bare ARG has no value');
  t.equal(argValue('ONLY', undefined, { ONLY: null }, globals), undefined, 'a --build-arg without a value (null) does not override');
});
