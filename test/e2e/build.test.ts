// docker build through the real CLI with DOCKER_BUILDKIT=0 (the classic builder, POST /build):
// each instruction on a small context, multi-stage with --target and COPY --from, build args
// and the unused-arg warning, --label, ADD of a local tar and of an unreachable URL, the
// stream record for record, failures (a RUN's exit code, an unknown instruction, a missing
// COPY source), the cache (` ---> Using cache`, an edit invalidating later steps, --no-cache),
// -q, several -t, -f outside the context and from stdin, the cache in system df and
// builder prune (filters, --keep-storage, what system prune takes), --pull against a registry
// on 127.0.0.1.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk, type DockerResult } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import { registrySkipReason, startRegistry } from '../helpers/registry';

const skip = e2eSkipReason();
const legacy = { env: { DOCKER_BUILDKIT: '0' } };

let work = '';
t.before(() => { work = mkdtempSync('/tmp/bt-build-'); });
t.teardown(() => { if (work) rmSync(work, { recursive: true, force: true }); });

/** A context dir with these files (paths relative, parents made). */
function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(work, 'ctx-'));
  for (const [name, body] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), body);
  }
  return dir;
}

const build = (d: Daemon, args: string[], input?: string): Promise<DockerResult> => docker(d, ['build', ...args], { ...legacy, ...(input !== undefined && { input }) });
const buildOk = (d: Daemon, args: string[], input?: string): Promise<DockerResult> => dockerOk(d, ['build', ...args], { ...legacy, ...(input !== undefined && { input }) });
const run = async (d: Daemon, args: string[]): Promise<string> => (await dockerOk(d, ['run', '--rm', ...args])).stdout;
const inspect = async (d: Daemon, ref: string): Promise<Record<string, any>> => JSON.parse((await dockerOk(d, ['image', 'inspect', ref])).stdout)[0];

let daemon: Daemon | undefined;
async function shared(tt: Parameters<typeof startDaemon>[0]): Promise<Daemon> {
  if (!daemon) {
    daemon = await startDaemon(tt);
    await importTestImage(daemon);
  }
  return daemon;
}

t.test('classic builder', { skip }, async (t) => {
  const d = await shared(t);

  t.test('the stream record for record; RUN, ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME, CMD ...', async (t) => {
    const dir = context({
      Dockerfile: [
        '# a comment',
        'FROM busybox',
        'ARG GREETING=hello',
        'ENV A=1 B="two words"',
        'ENV LEGACY the rest',
        'WORKDIR /app',
        'WORKDIR sub',
        'RUN echo "$GREETING from $(pwd) A=$A" && \\',
        '    echo out > /app/sub/made',
        'COPY f.txt ./',
        'LABEL version="1.0" maintainer.name=me',
        'EXPOSE 80 53/udp',
        'VOLUME ["/data"]',
        'USER nobody',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=30s --retries=2 CMD true',
        'SHELL ["/bin/sh", "-c"]',
        'ONBUILD RUN echo triggered',
        'MAINTAINER someone',
        'ENTRYPOINT ["/bin/echo"]',
        'CMD ["hi"]',
        '',
      ].join('\n'),
      'f.txt': 'file\n',
    });
    const r = await buildOk(d, ['-t', 'bt-b1', '-t', 'bt-b1:two', dir]);
    const lines = r.stdout.slice(r.stdout.indexOf('Step 1/')).split('\n');
    t.equal(lines[0], 'Step 1/19 : FROM busybox');
    t.match(lines[1], /^ ---> [0-9a-f]{12}$/);
    t.equal(lines[2], 'Step 2/19 : ARG GREETING=hello');
    t.match(lines[3], /^ ---> Running in [0-9a-f]{12}$/);
    t.match(lines[4], /^Removing intermediate container [0-9a-f]{12}$/);
    t.ok(r.stdout.includes('Step 7/19 : RUN echo "$GREETING from $(pwd) A=$A" &&     echo out > /app/sub/made\n'), 'continuation joined');
    t.ok(r.stdout.includes('hello from /app/sub A=1\n'), 'RUN output, with the build arg, ENV and WORKDIR');
    t.match(r.stdout, /Successfully built ([0-9a-f]{12})\nSuccessfully tagged bt-b1:latest\nSuccessfully tagged bt-b1:two\n$/);
    const img = await inspect(d, 'bt-b1');
    const c = img.Config;
    t.ok(c.Env.includes('A=1') && c.Env.includes('B=two words') && c.Env.includes('LEGACY=the rest'), `Env ${JSON.stringify(c.Env)}`);
    t.notOk(c.Env.some((e: string) => e.startsWith('GREETING=')), 'build args stay out of the image');
    t.equal(c.WorkingDir, '/app/sub');
    t.equal(c.User, 'nobody');
    t.same(c.Labels, { version: '1.0', 'maintainer.name': 'me' });
    t.same(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
    t.same(c.Volumes, { '/data': {} });
    t.equal(c.StopSignal, 'SIGQUIT');
    t.same(c.Healthcheck, { Test: ['CMD-SHELL', 'true'], Interval: 30e9, Retries: 2 });
    t.same(c.Shell, ['/bin/sh', '-c']);
    t.same(c.OnBuild, ['RUN echo triggered']);
    t.same(c.Entrypoint, ['/bin/echo']);
    t.same(c.Cmd, ['hi']);
    t.equal(img.Author, 'someone');
    t.equal(await run(d, ['--user', 'root', '--entrypoint', 'cat', 'bt-b1', '/app/sub/made', '/app/sub/f.txt']), 'out\nfile\n');
    t.equal(await run(d, ['bt-b1']), 'hi\n');

    // ONBUILD runs in the child build
    const child = context({ Dockerfile: 'FROM bt-b1\nENTRYPOINT []\n' });
    const rc = await buildOk(d, ['-q', child]);
    t.match(rc.stdout, /^sha256:[0-9a-f]{64}\n$/, '-q prints only the ID');
    const rc2 = await buildOk(d, [child]);
    t.ok(rc2.stdout.includes('# Executing 1 build trigger\n'), rc2.stdout);
    t.ok(rc2.stdout.includes('triggered\n') || rc2.stdout.includes('Using cache'), 'the trigger ran (or was cached)');
  });

  t.test('a new ENTRYPOINT resets an inherited CMD; escape directive; ${VAR:-x} and ${VAR:+y}', async (t) => {
    const dir = context({
      Dockerfile: [
        '# escape=`',
        'FROM busybox',
        'ARG UNSET',
        'ARG SET=v',
        'ENV X=${UNSET:-dflt} Y=${SET:+alt} Z=${SET}',
        'RUN echo one `',
        '  two',
        'ENTRYPOINT ["/bin/sh"]',
        '',
      ].join('\n'),
    });
    const r = await buildOk(d, ['-t', 'bt-b2', dir]);
    t.ok(r.stdout.includes('one two\n'), r.stdout);
    const c = (await inspect(d, 'bt-b2')).Config;
    t.equal(c.Cmd, null, 'the base image\'s CMD ["sh"] is gone');
    t.ok(c.Env.includes('X=dflt') && c.Env.includes('Y=alt') && c.Env.includes('Z=v'), JSON.stringify(c.Env));
  });

  t.test('multi-stage: AS name, COPY --from=stage and --from=index, --target, COPY --chown --chmod, globs, dirs', async (t) => {
    const dir = context({
      Dockerfile: [
        'FROM busybox AS builder',
        'RUN mkdir -p /out/d && echo built > /out/d/artifact && echo x > /out/other',
        'FROM busybox AS second',
        'COPY --from=builder /out/d /copied/',
        'COPY --from=0 /out/other /other',
        'COPY --chown=user:user --chmod=0640 *.txt /txts/',
        'COPY dir /dir',
        'FROM scratch AS never',
        'COPY a.txt /',
        '',
      ].join('\n'),
      'a.txt': 'a\n', 'b.txt': 'b\n', 'c.md': 'c\n', 'dir/x/y': 'y\n',
    });
    const r = await buildOk(d, ['--target', 'second', '-t', 'bt-b3', dir]);
    t.match(r.stdout, /Step 1\/7 : FROM busybox AS builder/);
    t.notOk(r.stdout.includes('never'), 'stages after the target are not built');
    const out = await run(d, ['bt-b3', 'sh', '-c', 'cat /copied/artifact /other; ls /txts; stat -c "%a %u:%g" /txts/a.txt; cat /dir/x/y']);
    t.equal(out, 'built\nx\na.txt\nb.txt\n640 1000:1000\ny\n');
  });

  t.test('ADD: a local tar is unpacked; a URL that cannot be reached fails fast', async (t) => {
    const dir = context({ Dockerfile: 'FROM busybox\nADD files.tar.gz /unpacked/\nADD plain.txt /plain\n', 'plain.txt': 'p\n' });
    mkdirSync(join(dir, 'src/sub'), { recursive: true });
    writeFileSync(join(dir, 'src/sub/inner'), 'inner\n');
    execFileSync('tar', ['-czf', join(dir, 'files.tar.gz'), '-C', join(dir, 'src'), '.']);
    rmSync(join(dir, 'src'), { recursive: true });
    await buildOk(d, ['-t', 'bt-b4', dir]);
    t.equal(await run(d, ['bt-b4', 'cat', '/unpacked/sub/inner', '/plain']), 'inner\np\n');

    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const url = context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/file.txt /file.txt\n` });
    const bad = await build(d, [url]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, new RegExp(`ADD failed: Get "http://127.0.0.1:${port}/file.txt": connect: connection refused`));
  });

  t.test('failures: a RUN\'s exit code, an unknown instruction, a missing COPY source, heredocs', async (t) => {
    const fail = await build(d, [context({ Dockerfile: 'FROM busybox\nRUN echo before; exit 3\n' })]);
    t.equal(fail.code, 3, 'the CLI exits with RUN\'s code');
    t.match(fail.stderr, /The command '\/bin\/sh -c echo before; exit 3' returned a non-zero code: 3/);
    t.match(fail.stdout, /before\n/);

    const unknown = await build(d, [context({ Dockerfile: 'FROM busybox\nFROBNICATE x\n' })]);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /dockerfile parse error on line 2: unknown instruction: FROBNICATE/);

    const missing = await build(d, [context({ Dockerfile: 'FROM busybox\nCOPY nope.txt /\n' })]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /COPY failed: file not found in build context or excluded by \.dockerignore: stat nope\.txt: file does not exist/);

    const heredoc = await build(d, [context({ Dockerfile: 'FROM busybox\nRUN <<EOF\necho hi\nEOF\n' })]);
    t.equal(heredoc.code, 1);
    t.match(heredoc.stderr, /heredoc syntax requires BuildKit/);

    const noImage = await build(d, [context({ Dockerfile: 'FROM bt-does-not-exist\n' })]);
    t.equal(noImage.code, 1);
  });

  t.test('cache: a second build hits every step; an edit invalidates that step and later ones; --no-cache', async (t) => {
    const dir = context({ Dockerfile: 'FROM busybox\nENV A=1\nCOPY f.txt /\nRUN cat /f.txt > /g.txt\nLABEL l=1\n', 'f.txt': 'v1\n' });
    const first = await buildOk(d, [dir]);
    t.notOk(first.stdout.includes('Using cache'), 'nothing cached yet');
    const second = await buildOk(d, [dir]);
    t.equal(second.stdout.match(/ ---> Using cache/g)?.length, 4, 'four steps from the cache');
    t.equal(/Successfully built (\w+)/.exec(second.stdout)?.[1], /Successfully built (\w+)/.exec(first.stdout)?.[1], 'the same image');
    writeFileSync(join(dir, 'f.txt'), 'v2\n');
    const third = await buildOk(d, ['-t', 'bt-b5', dir]);
    t.equal(third.stdout.match(/ ---> Using cache/g)?.length, 1, 'only ENV stays cached');
    t.equal(await run(d, ['bt-b5', 'cat', '/g.txt']), 'v2\n');
    const fresh = await buildOk(d, ['--no-cache', dir]);
    t.notOk(fresh.stdout.includes('Using cache'));
    const pruned = await dockerOk(d, ['builder', 'prune', '-f']);
    t.match(pruned.stdout, /Total reclaimed space/);
    const after = await buildOk(d, [dir]);
    t.notOk(after.stdout.includes('Using cache'), 'builder prune forgot the cache');
  });

  t.test('build args, --label, -f outside the context, Dockerfile from stdin, .dockerignore', async (t) => {
    const dir = context({ Dockerfile: 'FROM busybox\nARG USED\nRUN echo "used=$USED"\n', 'keep.txt': 'k\n', 'skip.log': 's\n', '.dockerignore': '*.log\n' });
    const r = await buildOk(d, ['--build-arg', 'USED=yes', '--build-arg', 'UNUSED=1', '--label', 'from.cli=1', '-t', 'bt-b6', dir]);
    t.ok(r.stdout.includes('used=yes\n'));
    t.ok(r.stdout.includes('[Warning] One or more build-args [UNUSED] were not consumed\n'), r.stdout);
    t.match(r.stdout, /Step 4\/4 : LABEL from\.cli=1/);
    t.same((await inspect(d, 'bt-b6')).Config.Labels, { 'from.cli': '1' });

    const outside = join(work, 'Dockerfile.outside');
    writeFileSync(outside, 'FROM busybox\nCOPY . /ctx/\n');
    await buildOk(d, ['-f', outside, '-t', 'bt-b7', dir]);
    t.equal(await run(d, ['bt-b7', 'ls', '/ctx']), 'Dockerfile\nkeep.txt\n', '.dockerignore applied (and itself left out)');

    await buildOk(d, ['-f', '-', '-t', 'bt-b8', dir], 'FROM busybox\nCOPY keep.txt /\n');
    t.equal(await run(d, ['bt-b8', 'cat', '/keep.txt']), 'k\n');
  });
});

t.test('build cache in system df and builder prune: in-use entries stay, stale ones go with their bytes', { skip }, async (t) => {
  const d = await startDaemon(t);
  await importTestImage(d);
  const dir = context({ Dockerfile: 'FROM busybox\nRUN head -c 300000 /dev/zero > /zeros\nCOPY f.txt /\nCMD ["cat", "/f.txt"]\n', 'f.txt': 'v1\n' });
  await buildOk(d, ['-t', 'bt-cache', dir]);
  writeFileSync(join(dir, 'f.txt'), 'v22\n');
  await buildOk(d, ['-t', 'bt-cache', dir]); // the tag moves: the v1 COPY and CMD steps are stale
  const cacheRow = async () => JSON.parse((await dockerOk(d, ['system', 'df', '--format', '{{json .}}'])).stdout.trim().split('\n')
    .find((l) => l.includes('"Build Cache"'))!);
  t.same(await cacheRow(), { Active: '3', Reclaimable: '3B', Size: '300kB', TotalCount: '5', Type: 'Build Cache' },
    'RUN (300 kB, shared by both builds) and the new COPY and CMD are in use; the old COPY (3 B) and CMD are not');
  const records = JSON.parse((await d.request('GET', '/v1.45/system/df?type=build-cache')).body).BuildCache as Array<Record<string, any>>;
  const run1 = records.find((r) => r.Description.endsWith('head -c 300000 /dev/zero > /zeros'))!;
  t.match(run1, { Type: 'regular', InUse: true, Shared: false, Size: 300000, Parents: null, UsageCount: 2 }, 'the second build took RUN from the cache');
  const stale = records.filter((r) => !r.InUse);
  t.same(stale.map((r) => r.Size).sort(), [0, 3]);
  t.ok(stale.every((r) => r.Parents?.[0] === run1.ID || stale.some((p) => r.Parents?.[0] === p.ID)), 'Parents link each entry to the step before it');
  t.match((await dockerOk(d, ['system', 'df', '-v'])).stdout, /Build cache usage: 300kB\n\nCACHE ID +CACHE TYPE +SIZE +CREATED +LAST USED +USAGE +SHARED\n/);

  const imagesBefore = (await dockerOk(d, ['images', '-aq'])).stdout.split('\n').length;
  const young = await dockerOk(d, ['builder', 'prune', '-f', '--filter', 'until=1h']);
  t.equal(young.stdout, 'Total reclaimed space: 0B\n', 'nothing was last used more than an hour ago');
  const bad = await docker(d, ['builder', 'prune', '-f', '--filter', 'until=soon']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /"until" filter expects a duration \(e\.g\., '24h'\) or a timestamp/);
  const prune = (f: object) => d.request('POST', `/v1.45/build/prune?filters=${encodeURIComponent(JSON.stringify(f))}`);
  const conflict = await prune({ until: ['1h'], 'unused-for': ['1h'] });
  t.same([conflict.status, JSON.parse(conflict.body).message], [400, 'conflicting filters: "until" and "unused-for"']);
  const two = await prune({ id: ['a', 'b'] });
  t.same([two.status, JSON.parse(two.body).message], [400, 'filters expect only one value']);
  const other = await prune({ id: ['^not-hex'] });
  t.same(JSON.parse(other.body), { CachesDeleted: null, SpaceReclaimed: 0 }, 'id is a pattern, and no ID matches this one');
  const kept = await dockerOk(d, ['builder', 'prune', '-f', '--keep-storage', '1MB']);
  t.equal(kept.stdout, 'Total reclaimed space: 0B\n', 'the cache is under --keep-storage');

  const pruned = await dockerOk(d, ['builder', 'prune', '-f']);
  t.equal(pruned.stdout, `Deleted build cache objects:\n${stale.map((r) => r.ID).join('\n')}\n\nTotal reclaimed space: 3B\n`);
  t.equal((await dockerOk(d, ['images', '-aq'])).stdout.split('\n').length, imagesBefore - 2, 'the stale COPY and CMD images went');
  t.same(await cacheRow(), { Active: '3', Reclaimable: '0B', Size: '300kB', TotalCount: '3', Type: 'Build Cache' });
  t.equal(await run(d, ['bt-cache']), 'v22\n');
  t.equal((await buildOk(d, [dir])).stdout.match(/ ---> Using cache/g)?.length, 3, 'the kept entries still hit');

  // system prune takes the build cache too (the CLI sends its label filter, which the build cache ignores)
  writeFileSync(join(dir, 'f.txt'), 'v333\n');
  await buildOk(d, ['-t', 'bt-cache', dir]);
  const sys = await dockerOk(d, ['system', 'prune', '-f', '--filter', 'label=nothing.has.this']);
  t.match(sys.stdout, /Total reclaimed space/);
  await dockerOk(d, ['system', 'prune', '-f']);
  t.same(await cacheRow(), { Active: '3', Reclaimable: '0B', Size: '300kB', TotalCount: '3', Type: 'Build Cache' }, 'only the in-use entries remain');
  await dockerOk(d, ['rmi', 'bt-cache']);
  t.equal((await cacheRow()).TotalCount, '0', 'removing the image took its cache entries');
});

t.test('--pull re-pulls FROM from a registry on 127.0.0.1; a missing base is pulled; Docker Hub is refused', { skip: skip || registrySkipReason() }, async (t) => {
  const reg = await startRegistry(t);
  const d = await startDaemon(t); // berthd runs with --registry-loopback-only
  await importTestImage(d, 'bt-src:latest');
  const base = `${reg.host}/bt/base:1`;
  await dockerOk(d, ['tag', 'bt-src:latest', base]);
  await dockerOk(d, ['push', base]);
  const pushedId = (await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', base])).stdout.trim();
  // the local tag now names something else than the registry has
  await buildOk(d, ['-t', base, context({ Dockerfile: 'FROM bt-src:latest\nRUN echo local > /marker\n' })]);
  const dir = context({ Dockerfile: `FROM ${base}\nRUN cat /marker 2>/dev/null || echo no marker\n` });

  const local = await buildOk(d, [dir]);
  t.ok(local.stdout.includes('\nlocal\n'), 'without --pull the local image is the base');
  t.notMatch(local.stdout, /Pulling from/);

  const pulled = await buildOk(d, ['--pull', '--no-cache', dir]);
  t.match(pulled.stdout, new RegExp(`Step 1/2 : FROM ${base.replace(/\./g, '\\.')}\n1: Pulling from bt/base\n`), 'the pull\'s progress is in the build\'s output');
  t.match(pulled.stdout, /Status: Downloaded newer image for /);
  t.ok(pulled.stdout.includes('\nno marker\n'), 'the registry\'s image is the base');
  t.equal((await dockerOk(d, ['image', 'inspect', '-f', '{{.Id}}', base])).stdout.trim(), pushedId, 'the tag names the pulled image again');

  await dockerOk(d, ['rmi', '-f', base]);
  const missing = await buildOk(d, [dir]);
  t.match(missing.stdout, /Pulling from bt\/base/, 'a base that is not here is pulled without --pull');

  const hub = await build(d, ['--pull', context({ Dockerfile: 'FROM busybox\n' })]);
  t.equal(hub.code, 1);
  t.match(hub.stderr, /is not on a loopback address and berthd runs with --registry-loopback-only/, 'refused before any lookup');
});
