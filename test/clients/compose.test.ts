// docker-compose 1.29 (Debian's, which speaks the API through the Docker SDK for Python) against
// a berthd of the test's own: a project with a build, two services on the project network that
// reach each other by service name, a named volume, a port published on 127.0.0.1, depends_on
// with condition: service_healthy, environment and labels; up -d, ps, logs, exec, restart,
// attached up (logs replayed, Ctrl-C stops), down -v leaving what dockerd leaves.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { e2eSkipReason, startDaemon, type Daemon } from '../helpers/daemon';
import { docker, dockerOk, type DockerOptions } from '../helpers/docker';
import { importTestImage } from '../helpers/test-image';
import { freePort } from '../helpers/ports';

const COMPOSE = '/usr/bin/docker-compose';
const PROJECT = 'clients';
/** Set while container networking (endpoints, DNS by service name, published ports) is not on main. */
const NETWORK_PENDING: string | false = false;

function composeSkipReason(): string | false {
  const r = spawnSync(COMPOSE, ['version', '--short'], { encoding: 'utf8' });
  if (r.status !== 0) return `Debian's docker-compose is not installed (scripts/install-deps.sh installs it): ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
  t.comment(`docker-compose ${r.stdout.trim()}`);
  return false;
}

const skip = e2eSkipReason() || composeSkipReason();
if (skip) t.comment(`skipped: ${skip}`);

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

let d: Daemon;
let dir: string;
let port: number;

function compose(args: string[], opts: DockerOptions = {}) {
  return docker(d, ['--ansi', 'never', '-p', PROJECT, ...args], { command: COMPOSE, cwd: dir, timeoutMs: 180_000, ...opts });
}
function composeOk(args: string[], opts: DockerOptions = {}) {
  return dockerOk(d, ['--ansi', 'never', '-p', PROJECT, ...args], { command: COMPOSE, cwd: dir, timeoutMs: 180_000, ...opts });
}
async function inspect(ref: string): Promise<Record<string, any>> {
  return (JSON.parse((await dockerOk(d, ['inspect', ref])).stdout) as Array<Record<string, any>>)[0]!;
}
async function lines(args: string[]): Promise<string[]> {
  return (await dockerOk(d, args)).stdout.split('\n').filter(Boolean).sort();
}

t.before(async () => {
  if (skip) return;
  d = await startDaemon(t);
  await importTestImage(d, 'busybox:latest');
  port = await freePort();
  dir = join(d.dir, 'project');
  mkdirSync(join(dir, 'web'), { recursive: true });
  writeFileSync(join(dir, 'web', 'Dockerfile'), [
    'FROM busybox:latest',
    'ARG GREETING=none',
    'RUN mkdir -p /www && echo "$GREETING from web" > /www/index.html',
    'CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]',
    '',
  ].join('\n'));
  // no version key: the Compose Specification, where depends_on takes a condition
  writeFileSync(join(dir, 'docker-compose.yml'), `
services:
  web:
    build:
      context: web
      args:
        GREETING: hello
    environment:
      ROLE: web-role
    labels:
      clients.test: compose
    ports:
      - "127.0.0.1:${port}:8080"
    volumes:
      - data:/data
    command: ["sh", "-c", "echo \\"web up as $$ROLE\\"; echo visit >> /data/visits; exec httpd -f -p 8080 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      timeout: 5s
      retries: 120
  app:
    image: busybox:latest
    depends_on:
      web:
        condition: service_healthy
    environment:
      - TARGET=web
    labels:
      clients.test: compose
    volumes:
      - data:/data:ro
    command: ["sh", "-c", "echo app started; wget -q -O - http://$$TARGET:8080/ || echo wget failed; exec sleep 100000"]
volumes:
  data:
`);
});

t.test('up -d: build, project network and volume, health-gated start, labels, environment, port', { skip }, async (t) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const up = await composeOk(['up', '-d']);
  t.match(up.stderr, /Creating network "clients_default" with the default driver/);
  t.match(up.stderr, /Creating volume "clients_data" with default driver/);
  t.match(up.stderr, /Building web/);
  t.match(up.stdout, /Successfully tagged clients_web:latest/, 'built by the docker CLI (compose\'s default builder)');
  t.match(up.stderr, /Creating clients_web_1 \.\.\. done/);
  t.match(up.stderr, /Creating clients_app_1 \.\.\. done/);

  t.same(await lines(['ps', '--format', '{{.Names}} {{.Image}}']), ['clients_app_1 busybox:latest', 'clients_web_1 clients_web'], 'both services run');
  const web = await inspect('clients_web_1');
  const app = await inspect('clients_app_1');
  t.match(web.Config.Labels, {
    'clients.test': 'compose', 'com.docker.compose.project': PROJECT, 'com.docker.compose.service': 'web',
    'com.docker.compose.container-number': '1', 'com.docker.compose.oneoff': 'False', 'com.docker.compose.version': '1.29.2',
  }, 'the service labels and compose\'s own');
  t.ok(web.Config.Env.includes('ROLE=web-role'), 'environment (mapping form)');
  t.ok(app.Config.Env.includes('TARGET=web'), 'environment (list form)');
  t.equal(web.State.Health.Status, 'healthy');
  t.same(web.HostConfig.PortBindings, { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] }, 'the port binding');
  t.match(web.Mounts, [{ Type: 'volume', Name: 'clients_data', Destination: '/data', RW: true }]);
  t.match(app.Mounts, [{ Type: 'volume', Name: 'clients_data', Destination: '/data', RW: false }]);
  const img = await inspect('clients_web');
  t.equal(web.Image, img.Id, 'web runs the image compose built');

  const vol = await inspect('clients_data');
  t.match(vol.Labels, { 'com.docker.compose.project': PROJECT, 'com.docker.compose.volume': 'data' });
  const net = JSON.parse((await dockerOk(d, ['network', 'inspect', 'clients_default'])).stdout)[0];
  t.match(net, { Driver: 'bridge', Labels: { 'com.docker.compose.project': PROJECT, 'com.docker.compose.network': 'default' } });
  // depends_on condition: service_healthy: app started only after web was reported healthy
  const ev = (await dockerOk(d, ['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1),
    '--filter', 'type=container', '--format', '{{.Action}} {{.Actor.Attributes.name}}'])).stdout.split('\n').filter(Boolean);
  const healthy = ev.indexOf('health_status: healthy clients_web_1');
  const appStart = ev.indexOf('start clients_app_1');
  t.ok(healthy >= 0 && appStart > healthy, 'app started after web became healthy', { found: ev });

});

t.test('the project network: aliases, DNS by service name, the published port', { skip: skip || NETWORK_PENDING }, async (t) => {
  const web = await inspect('clients_web_1');
  const app = await inspect('clients_app_1');
  // compose 1.29 sends the service name and the container's short ID as aliases (in set order); dockerd keeps them as sent
  t.ok(web.NetworkSettings.Networks.clients_default?.Aliases?.includes('web'), 'web is on the project network as "web"');
  t.ok(app.NetworkSettings.Networks.clients_default?.Aliases?.includes('app'), 'app is on the project network as "app"');
  t.equal(await httpGet(port), 'hello from web\n', 'the published port on 127.0.0.1 reaches web');
  let appLog = '';
  for (let i = 0; i < 100 && !/hello from web|wget failed/.test(appLog); i++) {
    appLog = (await dockerOk(d, ['logs', 'clients_app_1'])).stdout;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(appLog, 'app started\nhello from web\n', 'app reached web by its service name');
  const ps = (await composeOk(['ps'])).stdout;
  t.match(ps, new RegExp(`^clients_web_1\\s.*\\s127\\.0\\.0\\.1:${port}->8080/tcp\\s*$`, 'm'), 'compose ps shows the published port');
});

t.test('build through the SDK (COMPOSE_DOCKER_CLI_BUILD=0) uses the cache of the first build', { skip }, async (t) => {
  const before = await inspect('clients_web');
  const b = await composeOk(['build', 'web'], { env: { COMPOSE_DOCKER_CLI_BUILD: '0' } });
  t.match(b.stdout, /Step 1\/4 : FROM busybox:latest/);
  t.match(b.stdout, /Using cache/);
  t.match(b.stdout, /Successfully tagged clients_web:latest/);
  t.equal((await inspect('clients_web')).Id, before.Id, 'the same image');
});

t.test('ps, logs, exec', { skip }, async (t) => {
  const ps = (await composeOk(['ps'])).stdout;
  t.match(ps, /^\s*Name\s+Command\s+State\s+Ports\s*$/m, 'the ps header');
  t.match(ps, /^clients_app_1\s+sh -c echo app started; .*\s+Up\s*$/m);
  t.match(ps, /^clients_web_1\s+sh -c echo "web up as .*\s+Up \(healthy\)\s/m);
  t.same((await composeOk(['ps', '-q'])).stdout.split('\n').filter(Boolean).sort(),
    [(await inspect('clients_app_1')).Id, (await inspect('clients_web_1')).Id].sort(), 'ps -q: the IDs');
  t.same((await composeOk(['ps', '--services'])).stdout.split('\n').filter(Boolean).sort(), ['app', 'web']);

  const logs = (await composeOk(['logs', '--no-color', 'web'])).stdout;
  t.match(logs, /^Attaching to clients_web_1\n/);
  t.match(logs, /^web_1\s+\| web up as web-role$/m);
  const all = (await composeOk(['logs', '--no-color'])).stdout;
  t.match(all, /^app_1\s+\| app started$/m, 'logs of every service, prefixed');

  const ex = await composeOk(['exec', '-T', 'web', 'sh', '-c', 'cat /data/visits; echo $ROLE; echo to-err >&2']);
  t.equal(ex.stdout, 'visit\nweb-role\n', 'exec -T through the docker CLI (compose\'s default)');
  t.equal(ex.stderr, 'to-err\n');
  t.equal((await compose(['exec', '-T', 'web', 'sh', '-c', 'exit 3'])).code, 3, 'exec\'s exit code');
  const sdk = await composeOk(['exec', '-T', '-e', 'X=y', 'app', 'sh', '-c', 'echo $X; ls /data'], { env: { COMPOSE_INTERACTIVE_NO_CLI: '1' } });
  t.equal(sdk.stdout, 'y\nvisits\n', 'exec -T through the SDK (COMPOSE_INTERACTIVE_NO_CLI=1)');
  t.equal((await compose(['exec', '-T', 'app', 'sh', '-c', 'exit 4'], { env: { COMPOSE_INTERACTIVE_NO_CLI: '1' } })).code, 4);
});

t.test('restart', { skip }, async (t) => {
  const before = await inspect('clients_web_1');
  const r = await composeOk(['restart', '-t', '1']);
  t.match(r.stderr, /Restarting clients_app_1 \.\.\. done/);
  t.match(r.stderr, /Restarting clients_web_1 \.\.\. done/);
  const after = await inspect('clients_web_1');
  t.equal(after.Id, before.Id, 'the same container');
  t.equal(after.State.Running, true);
  t.not(after.State.StartedAt, before.State.StartedAt, 'started again');
  t.equal((await composeOk(['exec', '-T', 'web', 'cat', '/data/visits'])).stdout, 'visit\nvisit\n', 'the named volume kept its data');
});

t.test('attached up replays the logs; Ctrl-C stops the project', { skip }, async (t) => {
  const child = spawn(COMPOSE, ['--ansi', 'never', '-p', PROJECT, 'up', '--no-color'], { cwd: dir, env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  for (let i = 0; i < 600 && !/web_1\s+\| web up as web-role[\s\S]*web_1\s+\| web up as web-role/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
  t.match(out, /clients_web_1 is up-to-date/, 'up finds the running containers');
  t.match(out, /Attaching to clients_web_1, clients_app_1|Attaching to clients_app_1, clients_web_1/);
  t.match(out, /^app_1\s+\| app started$/m, 'app\'s log replayed');
  t.equal(out.match(/^web_1\s+\| web up as web-role$/mg)?.length, 2, 'web\'s log replayed from both starts');
  child.kill('SIGINT');
  await exited;
  t.match(out, /Gracefully stopping\.\.\. \(press Ctrl\+C again to force\)/);
  t.match(out, /Stopping clients_app_1 \.\.\. done/);
  t.match(out, /Stopping clients_web_1 \.\.\. done/);
  t.same(await lines(['ps', '-a', '--format', '{{.Names}} {{.State}}']), ['clients_app_1 exited', 'clients_web_1 exited'], 'Ctrl-C stopped both');
});

t.test('down -v leaves what dockerd leaves', { skip }, async (t) => {
  const r = await composeOk(['down', '-v']);
  t.match(r.stderr, /Removing clients_app_1 \.\.\. done/);
  t.match(r.stderr, /Removing clients_web_1 \.\.\. done/);
  t.match(r.stderr, /Removing network clients_default/);
  t.match(r.stderr, /Removing volume clients_data/);
  t.same(await lines(['ps', '-a', '-q']), [], 'no containers');
  t.same(await lines(['volume', 'ls', '-q']), [], 'no volumes');
  t.same(await lines(['network', 'ls', '--format', '{{.Name}}']), ['bridge', 'host', 'none'], 'only the predefined networks');
  t.same(await lines(['images', '--format', '{{.Repository}}:{{.Tag}}']), ['busybox:latest', 'clients_web:latest'], 'the built image stays, as with dockerd');
});
