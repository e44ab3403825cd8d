// berthd's configuration: flags and daemon.json with dockerd's names and dockerd's refusals
// (unknown key, malformed file, a setting given twice), and what SIGHUP reloads.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiWarnings, defaults, loadConfig, options, parseArgs, reloadConfig, tcpSecurity, usage, UsageError } from '../../daemon/config';
import { lookupGid, socketGid } from '../../daemon/listeners';
import { defaultCgroupnsMode } from '../../daemon/backend/containers/namespaces';

function tempJson(t: { teardown(fn: () => void): void }, body: unknown): { file: string; write(body: unknown): void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'daemon.json');
  const write = (b: unknown) => writeFileSync(file, typeof b === 'string' ? b : JSON.stringify(b));
  write(body);
  return { file, write };
}

const every = {
  hosts: ['unix:///run/a.sock', 'fd://'],
  'data-root': '/srv/berth',
  'exec-root': '/run/b',
  pidfile: '/run/b.pid',
  'log-level': 'warn',
  'log-driver': 'json-file',
  'log-opts': { 'max-size': '10m', 'max-file': '3' },
  'insecure-registries': ['registry.local:5000', '10.0.0.0/8'],
  'registry-mirrors': ['https://mirror.example.com/'],
  'default-ulimits': { nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 } },
  'live-restore': false,
  bip: '172.18.0.1/16',
  'default-address-pools': [{ base: '10.10.0.0/16', size: 24 }],
  'max-concurrent-downloads': 6,
  'max-concurrent-uploads': 2,
  debug: false,
  'metrics-addr': '127.0.0.1:9323',
  labels: ['zone=a', 'rack=7'],
  'cgroup-parent': 'berth-x',
  'default-cgroupns-mode': 'private',
};

t.test('every daemon.json key of the issue, with dockerd\'s names', async (t) => {
  const { file } = tempJson(t, every);
  const { config } = loadConfig(['--config-file', file]);
  t.same(config.hosts, ['unix:///run/a.sock', 'fd://']);
  t.equal(config.dataRoot, '/srv/berth');
  t.equal(config.execRoot, '/run/b');
  t.equal(config.pidfile, '/run/b.pid');
  t.equal(config.logLevel, 'warn');
  t.equal(config.logDriver, 'json-file');
  t.same(config.logOpts, { 'max-size': '10m', 'max-file': '3' });
  t.same(config.insecureRegistries, ['registry.local:5000', '10.0.0.0/8']);
  t.same(config.registryMirrors, ['https://mirror.example.com'], 'a trailing slash is dropped');
  t.same(config.defaultUlimits, { nofile: { Name: 'nofile', Soft: 1024, Hard: 2048 } });
  t.equal(config.liveRestore, false);
  t.equal(config.bip, '172.18.0.1/16');
  t.same(config.defaultAddressPools, [{ base: '10.10.0.0/16', size: 24 }]);
  t.equal(config.maxConcurrentDownloads, 6);
  t.equal(config.maxConcurrentUploads, 2);
  t.equal(config.debug, false);
  t.equal(config.metricsAddr, '127.0.0.1:9323');
  t.same(config.labels, ['zone=a', 'rack=7']);
  t.equal(config.cgroupParent, 'berth-x');
  t.equal(config.cgroupnsMode, 'private');
  t.equal(config.configFile, file);
  const keys = new Set(options.map((o) => o.key));
  t.same(Object.keys(every).filter((k) => !keys.has(k)), [], 'the option table holds every one of them');
});

t.test('defaults: an absent default file is fine, an absent --config-file is not', async (t) => {
  const { config } = loadConfig(['--config-file', tempJson(t, {}).file]);
  t.same({ ...config, configFile: undefined }, defaults);
  t.throws(() => loadConfig(['--config-file', '/nonexistent/daemon.json']),
    { message: /^unable to configure berthd with file \/nonexistent\/daemon.json: ENOENT/ });
  t.equal(loadConfig(['--config-file', tempJson(t, '').file]).config.logLevel, 'info', 'an empty file is {} (dockerd)');
});

t.test('an unknown key is refused with dockerd\'s message, naming every one', async (t) => {
  const { file } = tempJson(t, { debug: true, 'log-levle': 'debug', storage: 'x' });
  t.throws(() => loadConfig(['--config-file', file]), {
    constructor: UsageError,
    message: 'the following directives don\'t match any configuration option: log-levle, storage',
  });
});

t.test('a malformed file and values of the wrong type are refused, naming file and key', async (t) => {
  const { file, write } = tempJson(t, '{"debug": true,');
  t.throws(() => loadConfig(['--config-file', file]), { message: new RegExp(`^unable to configure berthd with file ${file}: not valid JSON: `) });
  write('[1, 2]');
  t.throws(() => loadConfig(['--config-file', file]), { message: /the file must hold one JSON object/ });
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ debug: 'yes' }, /"debug" must be true or false, not "yes"/],
    [{ 'log-level': 'loud' }, /"log-level" must be one of debug, info, warn, error, fatal, not "loud"/],
    [{ hosts: ['ssh://me@host'] }, /"hosts" ssh:\/\/me@host: berthd listens on unix:\/\/, tcp:\/\/ and fd:\/\/ \(systemd\) addresses only/],
    [{ hosts: ['tcp://1.2.3.4:99999'] }, /"hosts" tcp:\/\/1.2.3.4:99999: not a tcp:\/\/HOST:PORT address/],
    [{ tlsverify: 'yes' }, /"tlsverify" must be true or false, not "yes"/],
    [{ 'max-concurrent-downloads': -1 }, /"max-concurrent-downloads" must be a non-negative integer, not -1/],
    [{ 'metrics-addr': '9323' }, /"metrics-addr" "9323" is not host:port/],
    [{ labels: ['novalue'] }, /label "novalue" is not key=value/],
    [{ 'registry-mirrors': ['mirror.example.com'] }, /invalid mirror "mirror.example.com"/],
    [{ 'insecure-registries': ['http://r:5000'] }, /should not contain ':\/\/'/],
    [{ bip: '172.18.0.1' }, /"bip" "172.18.0.1" is not an address\/prefix/],
    [{ 'default-address-pools': [{ base: '10.0.0.0/8', size: 40 }] }, /pool size 40 is not between 1 and 32/],
    [{ 'default-ulimits': { nofile: { Soft: 10, Hard: 5 } } }, /soft limit 10 is above the hard limit 5/],
    [{ 'log-driver': 'journald' }, /"journald" is not supported: berth writes json-file logs only/],
    [{ 'log-opts': { 'max-file': 3 } }, /"log-opts" must be a string, not 3/],
    [{ 'log-opts': { 'max-buffer-size': '1m' } }, /"log-opts" failed to set log opts: unknown log opt 'max-buffer-size' for json-file log driver/],
    [{ 'default-cgroupns-mode': 'shared' }, /"default-cgroupns-mode" invalid default cgroup namespace \(shared\): use "host" or "private"/],
  ];
  for (const [body, message] of bad) {
    write(body);
    t.throws(() => loadConfig(['--config-file', file]), { constructor: UsageError, message }, JSON.stringify(body));
  }
});

t.test('a setting given as a flag and in the file is refused, as dockerd refuses it', async (t) => {
  const { file } = tempJson(t, { debug: false, labels: ['a=1'], 'log-level': 'info', 'data-root': '/x' });
  t.throws(() => loadConfig(['--config-file', file, '-D', '--label', 'b=2', '--label', 'c=3', '--data-root=/y']), {
    message: 'the following directives are specified both as a flag and in the configuration file: ' +
      'debug: (from flag: true, from file: false), labels: (from flag: [b=2 c=3], from file: ["a=1"]), data-root: (from flag: /y, from file: /x)',
  });
  const ok = loadConfig(['--config-file', file, '--exec-root', '/e']).config;
  t.equal(ok.execRoot, '/e', 'flags and file combine when they do not overlap');
  t.equal(ok.dataRoot, '/x');
});

t.test('flags: dockerd\'s spellings, repeats, booleans, --validate; debug means log level debug', async (t) => {
  const empty = tempJson(t, {}).file;
  const { config, validate } = loadConfig(['--config-file', empty, '-H', 'unix:///a.sock', '--host=fd://3', '-D',
    '--live-restore=false', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', '--default-ulimit', 'nofile=10:20',
    '--default-address-pool', 'base=10.1.0.0/16,size=24', '--max-concurrent-downloads', '9', '--metrics-addr', '[::1]:9323', '--validate']);
  t.same(config.hosts, ['unix:///a.sock', 'fd://3']);
  t.equal(config.debug, true);
  t.equal(config.logLevel, 'debug');
  t.equal(config.liveRestore, false);
  t.same(config.logOpts, { 'max-size': '1m', 'max-file': '2' });
  t.same(config.defaultUlimits, { nofile: { Name: 'nofile', Soft: 10, Hard: 20 } });
  t.same(config.defaultAddressPools, [{ base: '10.1.0.0/16', size: 24 }]);
  t.equal(config.maxConcurrentDownloads, 9);
  t.equal(config.metricsAddr, '[::1]:9323');
  t.equal(validate, true);
  t.throws(() => parseArgs(['--nope']), { message: 'unknown flag: --nope' });
  t.throws(() => parseArgs(['--data-root']), { message: 'flag needs an argument: --data-root' });
  t.throws(() => loadConfig(['--config-file', empty, '--max-concurrent-uploads', 'many']),
    { message: 'invalid value for --max-concurrent-uploads: must be a non-negative integer, not "many"' });
  t.throws(() => loadConfig(['--config-file', empty, '-H', 'npipe:////./pipe/x']), { message: /unix:\/\/, tcp:\/\/ and fd:\/\/ \(systemd\) addresses only/ });
});

t.test('--help names every flag and says what SIGHUP reloads', async (t) => {
  for (const o of options) for (const f of o.flags) t.match(usage, new RegExp(`(^|[\\s,])${f}[\\s,=]`, 'm'), f);
  for (const f of ['--config-file', '--validate', '--help', '--version']) t.match(usage, f);
  t.match(usage, /SIGHUP reloads daemon.json's debug, log-level, labels, live-restore, insecure-registries, registry-mirrors, registry-loopback-only, max-concurrent-downloads, max-concurrent-uploads/);
});

t.test('reload: the reloadable keys change in place; the others are reported as needing a restart', async (t) => {
  const { file, write } = tempJson(t, { 'log-level': 'info', labels: ['a=1'], 'live-restore': true, bip: '10.0.0.1/24' });
  const argv = ['--config-file', file, '--data-root', '/d'];
  const config = loadConfig(argv).config;
  const held = config; // the engine and /info hold this very object
  write({ debug: true, labels: ['a=2'], 'live-restore': false, 'registry-mirrors': ['https://m.example'],
    'max-concurrent-uploads': 1, 'max-concurrent-downloads': 1, 'insecure-registries': ['r:5000'], bip: '10.0.9.1/24', 'cgroup-parent': 'other' });
  const r = reloadConfig(config, argv);
  t.same(r.reloaded.sort(), ['debug', 'insecure-registries', 'labels', 'live-restore', 'log-level', 'max-concurrent-downloads',
    'max-concurrent-uploads', 'registry-mirrors'].sort());
  t.same(r.needRestart.sort(), ['bip', 'cgroup-parent']);
  t.equal(held.logLevel, 'debug');
  t.equal(held.debug, true);
  t.same(held.labels, ['a=2']);
  t.equal(held.liveRestore, false);
  t.same(held.registryMirrors, ['https://m.example']);
  t.equal(held.maxConcurrentUploads, 1);
  t.equal(held.bip, '10.0.0.1/24', 'a restart-only key keeps its running value');
  t.equal(held.cgroupParent, 'berth');

  // A key that leaves the file goes back to its default.
  write({});
  const back = reloadConfig(config, argv);
  t.ok(back.reloaded.includes('debug') && back.reloaded.includes('log-level'));
  t.equal(held.logLevel, 'info');
  t.same(held.labels, []);

  // A broken file (or a new clash with a flag) changes nothing.
  const before = JSON.stringify(held);
  for (const body of ['{"debug": tru', { debug: true, typo: 1 }, { debug: true, 'data-root': '/other' }]) {
    write(body);
    t.throws(() => reloadConfig(config, argv), { constructor: UsageError, message: /./ });
    t.equal(JSON.stringify(held), before, `unchanged after ${JSON.stringify(body)}`);
  }
});

t.test('tcp:// hosts: dockerd\'s default ports, and no listener without client certificates unless asked for', async (t) => {
  const empty = tempJson(t, {}).file;
  const load = (...args: string[]) => loadConfig(['--config-file', empty, ...args]).config;
  t.same(load('-H', 'tcp://127.0.0.1', '-H', 'tcp://', '--tls=false').hosts, ['tcp://127.0.0.1:2375', 'tcp://localhost:2375'], '2375 without TLS');
  const verified = load('-H', 'tcp://[::1]', '--tlsverify', '--tlscacert', '/ca.pem', '--tlscert', '/c.pem', '--tlskey', '/k.pem');
  t.same(verified.hosts, ['tcp://[::1]:2376'], '2376 with TLS');
  t.same(tcpSecurity(verified), { mode: 'verify', warnings: [] });

  t.throws(() => tcpSecurity(load('-H', 'tcp://0.0.0.0:2375')), { constructor: UsageError, message: /^refusing to listen on tcp:\/\/0.0.0.0:2375 without --tlsverify: anyone who can reach the port would have root access/ });
  t.throws(() => tcpSecurity(load('-H', 'tcp://127.0.0.1:2375', '-H', 'tcp://192.0.2.1:2375')), { message: /^refusing to listen on tcp:\/\/192.0.2.1:2375 without/ }, 'only the exposed address is named');
  t.throws(() => tcpSecurity(load('-H', 'tcp://127.0.0.1:2376', '--tlsverify', '--tlscert', '/c')),
    { message: '--tlsverify needs --tlscacert, --tlskey to listen on tcp://127.0.0.1:2376' });

  // loopback without a TLS choice: served with dockerd's warnings, as dockerd 28 does (no 15 s delay there either)
  for (const host of ['tcp://127.0.0.1:2375', 'tcp://localhost:2375', 'tcp://[::1]:2375', 'tcp://127.3.4.5:2375', 'tcp://[::ffff:127.0.0.1]:2375', 'tcp://']) {
    const sec = tcpSecurity(load('-H', host));
    t.equal(sec.mode, 'plain', `${host}: plain HTTP`);
    t.equal(sec.warnings.length, 3, `${host}: dockerd's three warnings`);
  }
  const loop = tcpSecurity(load('-H', 'tcp://127.0.0.1:2375'));
  t.same(loop.warnings, [
    'Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network. host="tcp://127.0.0.1:2375"',
    'Binding to an IP address, even on localhost, can also give access to scripts run in a browser. Be safe out there! host="tcp://127.0.0.1:2375"',
    '[DEPRECATION NOTICE] In future versions this will be a hard failure preventing the daemon from starting! Learn more at: https://docs.docker.com/go/api-security/ host="tcp://127.0.0.1:2375"',
  ]);

  // an explicit choice of TLS, either way, serves any address (with the warnings unless clients are verified)
  const insecure = tcpSecurity(load('-H', 'tcp://0.0.0.0:2375', '--tls=false'));
  t.equal(insecure.mode, 'plain', '--tls=false: plain HTTP on 0.0.0.0');
  t.match(insecure.warnings[0], /^Binding to IP address without --tlsverify is insecure/);
  t.throws(() => tcpSecurity(load('-H', 'tcp://0.0.0.0', '--tlsverify=false')), { message: '--tls needs --tlscert, --tlskey to listen on tcp://0.0.0.0:2376' },
    '--tlsverify=false turns TLS on, as dockerd (2376, a certificate needed)');
  const serverOnly = tcpSecurity(load('-H', 'tcp://0.0.0.0', '--tlsverify=false', '--tlscert', '/c', '--tlskey', '/k'));
  t.equal(serverOnly.mode, 'tls');
  t.equal(serverOnly.warnings.length, 3, 'TLS without client certificates: warned');
  t.equal(tcpSecurity(load('-H', 'tcp://0.0.0.0:2376', '--tls', '--tlscert', '/c', '--tlskey', '/k')).mode, 'tls', '--tls alone: TLS without client authentication');
  t.equal(tcpSecurity(load('-H', 'tcp://0.0.0.0:2376', '--tls', '--tlsverify=false', '--tlscert', '/c', '--tlskey', '/k')).mode, 'tls');

  t.same(apiWarnings(load('-H', 'tcp://127.0.0.1:2375', '-H', 'unix:///x.sock')).map((w) => w.split('\n')[0]),
    ['[DEPRECATION NOTICE]: API is accessible on http://127.0.0.1:2375 without encryption.'], 'docker info: plain HTTP');
  t.same(apiWarnings(load('-H', 'tcp://0.0.0.0', '--tls', '--tlscert', '/c', '--tlskey', '/k')).map((w) => w.split('\n')[0]),
    ['[DEPRECATION NOTICE]: API is accessible on https://0.0.0.0:2376 without TLS client verification.'], 'docker info: TLS without verification');
  t.same(apiWarnings(verified), [], 'docker info: nothing with --tlsverify');
  t.same(tcpSecurity(load()).warnings, [], 'no tcp:// host, nothing to say');

  const { file } = tempJson(t, { hosts: ['tcp://127.0.0.1:2376'], tlsverify: true, tlscacert: '/ca', tlscert: '/c', tlskey: '/k', group: 'staff' });
  const fromFile = loadConfig(['--config-file', file]).config;
  t.same([fromFile.tlsVerify, fromFile.tlsCaCert, fromFile.tlsCert, fromFile.tlsKey, fromFile.group], [true, '/ca', '/c', '/k', 'staff'], 'daemon.json keys of dockerd');
  t.equal(load().tls, undefined, 'tls stays unset unless given');
});

t.test('socket group: named or numbered; the default berth may be missing, another group may not', async (t) => {
  const { file } = tempJson(t, 'root:x:0:\nstaff:x:50:alice\nberthx:x:990:\n');
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  t.equal(lookupGid('staff', file), 50);
  t.equal(lookupGid('990', file), 990);
  t.equal(lookupGid('4242', file), 4242, 'an unlisted number is taken as is (dockerd\'s lookupGID)');
  t.equal(lookupGid('nobody-here', file), undefined);
  t.equal(socketGid('staff', warn, file), 50);
  t.equal(socketGid('berth', warn, file), process.getgid!(), 'no berth group: berthd\'s own group');
  t.match(warnings.join('\n'), /could not change group of the socket to berth: group berth not found/);
  t.equal(socketGid('', warn, file), process.getgid!());
  t.throws(() => socketGid('wheel2', warn, file), { constructor: UsageError, message: 'group wheel2 not found' });
});

t.test('HostConfig.CgroupnsMode when the client sends none: dockerd\'s default for the cgroup version, the daemon\'s, host for privileged on v1', async (t) => {
  const mode = (h: Record<string, unknown>, v: '1' | '2', daemon = '') => {
    const hc = { ...h };
    defaultCgroupnsMode(hc, v, daemon);
    return hc.CgroupnsMode;
  };
  t.equal(mode({}, '1'), 'host');
  t.equal(mode({}, '2'), 'private');
  t.equal(mode({}, '1', 'private'), 'private', 'daemon.json default-cgroupns-mode');
  t.equal(mode({}, '2', 'host'), 'host');
  t.equal(mode({ Privileged: true }, '1', 'private'), 'host', 'privileged on v1: always the host\'s');
  t.equal(mode({ Privileged: true }, '2'), 'private', 'privileged on v2: private all the same');
  t.equal(mode({ CgroupnsMode: 'private' }, '1'), 'private', 'what the client asked stays');
});
