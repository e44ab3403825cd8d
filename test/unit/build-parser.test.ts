// The classic builder's Dockerfile parser and shell-word lexer, and .dockerignore patterns.
import t from 'tap';
import { expandWord, expandWords, flagValues, keyValues, parseDockerfile } from '../../daemon/backend/build/parser';
import { ignoreMatcher } from '../../daemon/backend/build/context';
import { globRegExp } from '../../daemon/backend/build/copy';

const env = (vars: Record<string, string>) => (n: string) => (n in vars ? vars[n] : undefined);

t.test('instructions, comments, blank lines, case, original text', async (t) => {
  const df = parseDockerfile('# comment\n\nfrom busybox AS b\n  RUN echo hi   \n# another\nCMD ["sh", "-c", "x"]\n');
  t.same(df.instructions.map((i) => i.cmd), ['from', 'run', 'cmd']);
  t.equal(df.instructions[0]!.original, 'from busybox AS b');
  t.equal(df.instructions[1]!.original, 'RUN echo hi', 'leading and trailing whitespace trimmed');
  t.equal(df.instructions[1]!.line, 4);
  t.same(df.instructions[2]!.json, ['sh', '-c', 'x']);
  t.equal(df.instructions[1]!.json, null, 'shell form');
});

t.test('line continuations: joined as moby joins them, comments and empty lines inside skipped', async (t) => {
  const df = parseDockerfile('FROM x\nRUN a \\\n  b \\\n# inside\n\n  c\nENV A=1\n');
  t.equal(df.instructions[1]!.original, 'RUN a   b   c');
  t.equal(df.instructions[1]!.args, 'a   b   c');
  t.equal(df.instructions[2]!.original, 'ENV A=1');
  t.equal(df.instructions[2]!.line, 7);
  t.equal(parseDockerfile('FROM x\nRUN a \\').instructions[1]!.args, 'a', 'a continuation at the end of file');
});

t.test('the escape directive', async (t) => {
  const df = parseDockerfile('# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo\n');
  t.equal(df.escape, '`');
  t.equal(df.instructions[1]!.args, 'dir c:\\   && echo', 'backslash is an ordinary character, backtick continues');
  t.equal(parseDockerfile('# syntax=docker/dockerfile:1\n# escape=\\\nFROM x\n').escape, '\\');
  t.equal(parseDockerfile('FROM x\n# escape=`\nRUN a `\n').instructions.length, 2, 'a directive after an instruction is a comment');
  t.throws(() => parseDockerfile('# escape=x\nFROM a\n'), /invalid escape token/);
  t.throws(() => parseDockerfile('# escape=`\n# escape=`\nFROM a\n'), /only one escape parser directive/);
});

t.test('flags and JSON vs shell forms', async (t) => {
  const df = parseDockerfile('FROM --platform=linux/amd64 x AS y\nCOPY --from=y --chown=1:2 ["a b", "/c"]\nCMD [not json\nVOLUME ["/v"]\nENV X ["a"]\n');
  t.same(df.instructions[0]!.flags, [{ name: 'platform', value: 'linux/amd64' }]);
  t.equal(df.instructions[0]!.args, 'x AS y');
  t.same(df.instructions[1]!.flags, [{ name: 'from', value: 'y' }, { name: 'chown', value: '1:2' }]);
  t.same(df.instructions[1]!.json, ['a b', '/c']);
  t.equal(df.instructions[2]!.json, null, 'invalid JSON is the shell form');
  t.same(df.instructions[3]!.json, ['/v']);
  t.equal(df.instructions[4]!.json, null, 'ENV has no JSON form');
  t.throws(() => flagValues(df.instructions[1]!, ['from']), /Unknown flag: chown/);
  const run = parseDockerfile('FROM x\nRUN --mount=type=cache,target=/x true\n').instructions[1]!;
  t.throws(() => flagValues(run, []), /the --mount option requires BuildKit/);
});

t.test('errors: unknown instruction with its line, empty file, heredocs', async (t) => {
  t.throws(() => parseDockerfile('FROM x\n\nFROBNICATE y\n'), { message: 'dockerfile parse error on line 3: unknown instruction: FROBNICATE' });
  t.throws(() => parseDockerfile('# only a comment\n\n'), /cannot be empty/);
  t.throws(() => parseDockerfile('FROM x\nRUN <<EOF\necho\nEOF\n'), /line 2: the heredoc syntax requires BuildKit/);
  t.throws(() => parseDockerfile('FROM x\nCOPY <<-"EOT" /dst\nx\nEOT\n'), /heredoc/);
  t.doesNotThrow(() => parseDockerfile('FROM x\nRUN echo "a<<b" && cat x << 5\n'), 'not a heredoc');
});

t.test('word expansion: $VAR, ${VAR}, defaults and alternatives, quotes, escapes', async (t) => {
  const e = env({ A: 'a', EMPTY: '', SP: 'x y' });
  t.equal(expandWord('$A-${A}', e), 'a-a');
  t.equal(expandWord('${NOPE:-dflt} ${EMPTY:-dflt} ${EMPTY-dflt}', e), 'dflt dflt ');
  t.equal(expandWord('${A:+alt}|${NOPE:+alt}|${EMPTY:+alt}|${EMPTY+alt}', e), 'alt|||alt');
  t.equal(expandWord('${NOPE:-${A}x}', e), 'ax', 'nested');
  t.equal(expandWord("'$A' \"$A\" \\$A", e), '$A a $A');
  t.equal(expandWord('"\\"q\\" \\n"', e), '"q" \\n', 'inside double quotes only \\", \\$ and \\\\ escape');
  t.equal(expandWord('$', e), '$');
  t.equal(expandWord('`$A', e, '`'), '$A', 'the escape directive\'s token');
  t.throws(() => expandWord('${A', e), /missing '}'/);
  t.throws(() => expandWord('${A/x/y}', e), /unsupported modifier/);
  t.throws(() => expandWord('${NOPE:?must be set}', e), /must be set/);
  t.same(expandWords('a "b c" $SP d\\ e', e), ['a', 'b c', 'x y', 'd e'], 'expansion does not split words');
  t.same(expandWords('  ', e), []);
});

t.test('ENV/LABEL key=value pairs and the legacy form', async (t) => {
  const e = env({ A: '1' });
  t.same(keyValues('X=$A Y="two words" Z=\'$A\'', 'ENV', e), [['X', '1'], ['Y', 'two words'], ['Z', '$A']]);
  t.same(keyValues('LEGACY the rest  is $A', 'ENV', e), [['LEGACY', 'the rest  is 1']]);
  t.same(keyValues('"a b"=c', 'LABEL', e), [['a b', 'c']]);
  t.throws(() => keyValues('', 'ENV', e), /ENV requires at least one argument/);
  t.throws(() => keyValues('A=1 B', 'ENV', e), /can't find = in "B"/);
  t.throws(() => keyValues('ONLY', 'ENV', e), /ENV must have two arguments/);
});

t.test('globs and .dockerignore patterns', async (t) => {
  t.ok(globRegExp('*.txt').test('a.txt'));
  t.notOk(globRegExp('*.txt').test('a.md'));
  t.ok(globRegExp('f?[0-9]').test('fx7'));
  t.ok(globRegExp('[^a]').test('b'));
  const ignored = ignoreMatcher('# comment\n*.log\n!keep.log\nbuild/\n**/tmp\n/abs/x\n');
  t.ok(ignored('a.log'));
  t.notOk(ignored('keep.log'), '! exceptions, last match wins');
  t.notOk(ignored('sub/a.log'), '* does not cross directories');
  t.ok(ignored('build/out/file'), 'a directory takes its contents');
  t.ok(ignored('tmp') && ignored('deep/er/tmp/x'), '** matches any depth');
  t.ok(ignored('abs/x'), 'patterns are cleaned (leading slash)');
  t.notOk(ignored('src/main.c'));
});
