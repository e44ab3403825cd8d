// Image references: Docker's normalization, familiar forms, errors, and the reference filter glob.
import t from 'tap';
import {
  canonicalString, familiarMatch, familiarString, familiarStrings, parseAnyReference, parseNormalizedNamed, withDefaultTag,
} from '../../daemon/backend/images/reference';
import { InvalidParameter } from '../../daemon/errors';

const D = 'sha256:' + 'ab'.repeat(32);

t.test('normalizes like Docker and shows the familiar form', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['foo/bar:1', 'docker.io/foo/bar:1', 'foo/bar:1'],
    ['docker.io/library/alpine', 'docker.io/library/alpine:latest', 'alpine:latest'],
    ['index.docker.io/library/alpine:3', 'docker.io/library/alpine:3', 'alpine:3'],
    ['localhost:5000/x', 'localhost:5000/x:latest', 'localhost:5000/x:latest'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['registry.example.com/a/b/c:v1', 'registry.example.com/a/b/c:v1', 'registry.example.com/a/b/c:v1'],
    [`host:5000/a/b@${D}`, `host:5000/a/b@${D}`, `host:5000/a/b@${D}`],
    ['a__b-c---d/f_g.h:T.a-g_', 'docker.io/a__b-c---d/f_g.h:T.a-g_', 'a__b-c---d/f_g.h:T.a-g_'],
  ];
  for (const [input, canonical, familiar] of cases) {
    const ref = withDefaultTag(parseNormalizedNamed(input));
    t.equal(canonicalString(ref), canonical, input);
    t.equal(familiarString(ref), familiar, input);
  }
});

t.test('RepoTags in Docker\'s order: by the canonical string, not the familiar one', async (t) => {
  const refs = ['busybox:latest', 'clients/copy:v1', 'localhost:5000/z:1', 'alpine:3'].map((s) => parseNormalizedNamed(s));
  t.same(familiarStrings(refs), ['clients/copy:v1', 'alpine:3', 'busybox:latest', 'localhost:5000/z:1']);
});

t.test('invalid references are InvalidParameter with Docker\'s wording', async (t) => {
  const bad: Array<[string, string]> = [
    ['Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
    ['foo/Bar:1', 'invalid reference format: repository name (foo/Bar) must be lowercase'],
    ['foo:bar:baz', 'invalid reference format'],
    ['foo@sha256:123', 'invalid reference format'],
    ['-foo', 'invalid reference format'],
    ['foo/', 'invalid reference format'],
    ['a:' + 'x'.repeat(129), 'invalid reference format'],
    ['ab'.repeat(32), `invalid repository name (${'ab'.repeat(32)}), cannot specify 64-byte hexadecimal strings`],
  ];
  for (const [input, message] of bad) t.throws(() => parseNormalizedNamed(input), new InvalidParameter(message), input);
});

t.test('IDs: 64 hex or sha256:<64> are IDs, anything else a name', async (t) => {
  t.same(parseAnyReference('ab'.repeat(32)), { kind: 'id', id: D });
  t.same(parseAnyReference(D), { kind: 'id', id: D });
  t.equal(parseAnyReference('abc123').kind, 'named');
});

t.test('the reference filter matches name:tag, then the name alone, as path.Match', async (t) => {
  const ref = (s: string) => withDefaultTag(parseNormalizedNamed(s));
  t.ok(familiarMatch('busybox', ref('busybox')));
  t.ok(familiarMatch('busybox:latest', ref('busybox')));
  t.notOk(familiarMatch('busybox:1', ref('busybox')));
  t.ok(familiarMatch('bt-*', ref('bt-img:commit')));
  t.notOk(familiarMatch('bt-*', ref('foo/bt-img')), '* does not cross a slash');
  t.ok(familiarMatch('*/bt-*', ref('foo/bt-img')));
  t.ok(familiarMatch('foo:1', ref('foo:1')));
  t.ok(familiarMatch('fo[o-p]:?', ref('foo:1')));
  t.ok(familiarMatch('localhost:5000/*', ref('localhost:5000/x')));
  t.throws(() => familiarMatch('[', ref('x')), { message: 'syntax error in pattern' });
});
