// json-file log options as moby's jsonfilelog reads them: accepted keys, sizes, the start-time
// errors, the extra attributes and the tag template, and --details' escaping.
import t from 'tap';
import { extraAttributes, fromHumanSize, logSettings, queryEscape, validateLogOpts, type LogInfo } from '../../daemon/backend/containers/logopts';

const info: LogInfo = {
  id: 'c'.repeat(64), name: '/web', imageId: `sha256:${'a'.repeat(64)}`, imageName: 'busybox:latest',
  labels: { team: 'core', 'com.acme.tier': 'web', 'com.acme.zone': 'eu' }, env: ['PATH=/bin', 'REGION=eu-1', 'EMPTY=', 'NOVALUE'], command: ['sh', '-c', 'true'],
};

t.test('only json-file\'s keys are accepted at create', async (t) => {
  t.doesNotThrow(() => validateLogOpts({ Type: 'json-file', Config: { 'max-size': '1m', 'max-file': '2', compress: 'true', labels: 'a', 'labels-regex': 'x', env: 'E', 'env-regex': 'y', tag: 't' } }));
  t.throws(() => validateLogOpts({ Type: 'json-file', Config: { 'max-buffer-size': '1m' } }), { message: "unknown log opt 'max-buffer-size' for json-file log driver" });
  t.doesNotThrow(() => validateLogOpts({ Type: 'none', Config: {} }));
});

t.test('max-size is go-units\' decimal FromHumanSize', async (t) => {
  t.equal(fromHumanSize('10m'), 10_000_000);
  t.equal(fromHumanSize('1.5k'), 1500);
  t.equal(fromHumanSize('2MB'), 2_000_000);
  t.equal(fromHumanSize('512'), 512);
  t.throws(() => fromHumanSize('ten'), { message: "invalid size: 'ten'" });
});

t.test('logSettings: the limits, and dockerd\'s errors when the logger starts', async (t) => {
  t.same(logSettings({}, info), { maxSize: 0, maxFiles: 1, compress: false });
  t.same(logSettings({ 'max-size': '1k', 'max-file': '3', compress: 'TRUE' }, info), { maxSize: 1000, maxFiles: 3, compress: true });
  const prefix = 'failed to create task for container: failed to initialize logging driver: ';
  const bad: Array<[Record<string, string>, string]> = [
    [{ compress: 'true' }, 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    [{ compress: 'true', 'max-file': '3' }, 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    [{ compress: 'yes', 'max-size': '1k', 'max-file': '2' }, 'strconv.ParseBool: parsing "yes": invalid syntax'],
    [{ 'max-file': '0' }, 'max-file cannot be less than 1'],
    [{ 'max-file': 'two' }, 'strconv.Atoi: parsing "two": invalid syntax'],
    [{ 'max-size': '0' }, 'max-size must be a positive number'],
  ];
  for (const [cfg, msg] of bad) t.throws(() => logSettings(cfg, info), { message: prefix + msg }, JSON.stringify(cfg));
});

t.test('extra attributes: labels, labels-regex, env, env-regex and the tag template', async (t) => {
  t.same(extraAttributes({ labels: 'team,absent', env: 'REGION,EMPTY,NOVALUE' }, info), { team: 'core', REGION: 'eu-1', EMPTY: '' });
  t.same(extraAttributes({ 'labels-regex': '^com\\.acme\\.', 'env-regex': '^REG' }, info), { 'com.acme.tier': 'web', 'com.acme.zone': 'eu', REGION: 'eu-1' });
  t.same(extraAttributes({ tag: '{{.Name}}/{{.ID}}/{{.ImageName}}/{{.ImageID}}/{{.DaemonName}}' }, info),
    { tag: `web/${'c'.repeat(12)}/busybox:latest/sha256:aaaaa/docker` }, 'moby shortens the image ID with its sha256: prefix');
  t.same(extraAttributes({ tag: '{{.FullID}} {{.Command}}' }, info), { tag: `${'c'.repeat(64)} sh -c true` });
  t.throws(() => extraAttributes({ tag: '{{.Nope}}' }, info), /can't evaluate field Nope/);
  t.equal(logSettings({ labels: 'team', env: 'REGION', tag: 'x&<y>' }, info).attrs, '{"REGION":"eu-1","tag":"x\\u0026\\u003cy\\u003e","team":"core"}',
    'sorted keys, Go\'s JSON escaping');
});

t.test('--details escapes as Go\'s url.QueryEscape', async (t) => {
  t.equal(queryEscape('a b'), 'a+b');
  t.equal(queryEscape('x/y&z=1'), 'x%2Fy%26z%3D1');
  t.equal(queryEscape("it's (ok)*!"), 'it%27s+%28ok%29%2A%21');
  t.equal(queryEscape('-_.~'), '-_.~');
});

t.test('the local driver: its own keys, rotation on by default, its own wording', async (t) => {
  t.throws(() => validateLogOpts({ Type: 'local', Config: { labels: 'a' } }), { message: "unknown log opt 'labels' for log driver local" });
  t.doesNotThrow(() => validateLogOpts({ Type: 'local', Config: { 'max-size': '1m', 'max-file': '2', compress: 'false' } }));
  t.same(logSettings({}, info, 'local'), { maxSize: 20 * 1024 * 1024, maxFiles: 5, compress: true }, '20 MiB, 5 files, compressed');
  t.same(logSettings({ 'max-size': '1m', 'max-file': '2', compress: 'false' }, info, 'local'), { maxSize: 1_000_000, maxFiles: 2, compress: false });
  const prefix = 'failed to create task for container: failed to initialize logging driver: ';
  t.throws(() => logSettings({ 'max-file': '1' }, info, 'local'), { message: `${prefix}compression cannot be enabled when max file count is 1` });
  t.throws(() => logSettings({ 'max-size': 'big' }, info, 'local'), { message: `${prefix}invalid value for max-size: big: invalid size: 'big'` });
  t.throws(() => logSettings({ compress: 'maybe' }, info, 'local'), { message: `${prefix}invalid boolean value for compress: strconv.ParseBool: parsing "maybe": invalid syntax` });
});
