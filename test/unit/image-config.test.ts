// --change lines (import/commit), the import config, and chain IDs.
import t from 'tap';
import { createHash } from 'node:crypto';
import { applyChanges, importConfig } from '../../daemon/backend/images/config';
import { chainId, chainIds } from '../../daemon/backend/layers/store';

t.test('CMD and ENTRYPOINT: JSON and shell forms', async (t) => {
  t.same(applyChanges({}, ['CMD ["sh"]']).Cmd, ['sh']);
  t.same(applyChanges({}, ['CMD echo hi there']).Cmd, ['/bin/sh', '-c', 'echo hi there']);
  t.same(applyChanges({}, ['ENTRYPOINT ["/init", "-v"]']).Entrypoint, ['/init', '-v']);
  t.same(applyChanges({}, ['ENTRYPOINT exec nginx']).Entrypoint, ['/bin/sh', '-c', 'exec nginx']);
  t.same(applyChanges({ Cmd: ['old'] }, ['ENTRYPOINT ["x"]']).Cmd, null, 'a new ENTRYPOINT drops an inherited CMD');
  t.same(applyChanges({}, ['CMD ["a"]', 'ENTRYPOINT ["x"]']).Cmd, ['a'], 'but not one set by these changes');
  t.same(applyChanges({}, ['cmd [not json']).Cmd, ['/bin/sh', '-c', '[not json']);
});

t.test('ENV in both syntaxes, with quoting and expansion; later values replace earlier ones', async (t) => {
  const c = applyChanges({ Env: ['PATH=/bin'] }, [
    'ENV A=1 B="two words" C=\'$A\'',
    'ENV LEGACY the rest is the value',
    'ENV PATH=/usr/local/bin:$PATH D=${A}x E=${NOPE:-dflt}',
    'ENV A=3',
  ]);
  t.same(c.Env, ['PATH=/usr/local/bin:/bin', 'A=3', 'B=two words', 'C=$A', 'LEGACY=the rest is the value', 'D=1x', 'E=dflt']);
});

t.test('EXPOSE, VOLUME, WORKDIR, USER, LABEL, STOPSIGNAL, ONBUILD', async (t) => {
  const c = applyChanges({}, [
    'EXPOSE 80 443/tcp 53/udp 8000-8001',
    'VOLUME ["/data", "/logs"]',
    'VOLUME /cache',
    'WORKDIR /app',
    'WORKDIR sub/../src',
    'USER nobody:nogroup',
    'LABEL a=1 "b c"="d e"',
    'LABEL legacy value here',
    'STOPSIGNAL SIGQUIT',
    'ONBUILD RUN echo hi',
  ]);
  t.same(c.ExposedPorts, { '80/tcp': {}, '443/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} });
  t.same(c.Volumes, { '/data': {}, '/logs': {}, '/cache': {} });
  t.equal(c.WorkingDir, '/app/src');
  t.equal(c.User, 'nobody:nogroup');
  t.same(c.Labels, { a: '1', 'b c': 'd e', legacy: 'value here' });
  t.equal(c.StopSignal, 'SIGQUIT');
  t.same(c.OnBuild, ['RUN echo hi']);
});

t.test('instructions a change cannot hold are rejected', async (t) => {
  t.throws(() => applyChanges({}, ['RUN echo']), { message: 'RUN is not a valid change command' });
  t.throws(() => applyChanges({}, ['BOGUS x']), { message: 'BOGUS is not a valid change command' }, 'moby checks the name against the change commands before anything else');
  t.throws(() => applyChanges({}, ['EXPOSE abc']), { message: 'invalid containerPort: abc' });
  t.throws(() => applyChanges({}, ['ONBUILD ONBUILD RUN x']), { message: /Chaining ONBUILD/ });
});

t.test('the import config: Docker\'s shape, sorted keys, exact bytes', async (t) => {
  const diffId = 'sha256:' + '1'.repeat(64);
  const bytes = importConfig({ diffId, comment: 'Imported from -', message: 'Imported from -', changes: ['CMD ["sh"]'], created: '2024-01-02T03:04:05.123456789Z' });
  const doc = JSON.parse(bytes.toString());
  t.same(Object.keys(doc), ['architecture', 'comment', 'config', 'created', 'history', 'os', 'rootfs']);
  t.same(doc.rootfs, { type: 'layers', diff_ids: [diffId] });
  t.same(doc.history, [{ created: '2024-01-02T03:04:05.123456789Z', comment: 'Imported from -', created_by: '' }]);
  t.same(doc.config.Cmd, ['sh']);
  t.equal(doc.config.Hostname, '', 'the full container config shape');
});

t.test('chain IDs: the base is its DiffID, the rest hash "parent diff"', async (t) => {
  const d1 = 'sha256:' + 'a'.repeat(64);
  const d2 = 'sha256:' + 'b'.repeat(64);
  const c2 = 'sha256:' + createHash('sha256').update(`${d1} ${d2}`).digest('hex');
  t.equal(chainId(null, d1), d1);
  t.equal(chainId(d1, d2), c2);
  t.same(chainIds([d1, d2]), [d1, c2]);
  t.not(chainIds([d2, d1])[1], c2, 'order matters');
});
