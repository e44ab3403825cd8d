// Networks through the real Docker CLI: the predefined networks, create/inspect/rm/prune,
// a published port answering on the host's loopback, and two containers on a user network
// reaching each other by name and alias. Traffic stays between loopback and the test's own
// containers; the test daemon has its own bridge and 10.x ranges (test/helpers/daemon.ts).
import t, { type Test } from 'tap';
import { createServer as createHttpServer, get } from 'node:http';
import { spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { answer } from '../../daemon/backend/networks/dns';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Daemon } from '../helpers/daemon';
import { withTestDaemon } from '../helpers/test-daemon';
import { docker, dockerOk } from '../helpers/docker';
import { freePort } from '../helpers/ports';

let d: Daemon;
const skip = withTestDaemon(t, (started) => { d = started; });

const httpd = ['sh', '-c', 'mkdir -p /www && echo hello-$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www'];

/** One GET from inside a container, bounded by timeout (busybox 1.35's own wget -T crashes). */
const wgetIn = (from: string, url: string) => docker(d, ['exec', from, 'timeout', '3', 'wget', '-qO-', url]);

/** The body once a GET from inside succeeds (the server may still be starting); '' after 50 tries. */
async function wgetUntil(from: string, url: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const r = await wgetIn(from, url);
    if (r.code === 0) return r.stdout;
    await new Promise((res) => setTimeout(res, 100));
  }
  return '';
}

/**
 * User networks `<prefix>-<a|b|...>-<tag>`, one per subnet, removed at the test's end with the
 * containers named (which go first).
 */
async function userNetworks(t: Test, prefix: string, subnets: string[], containers: string[]): Promise<string[]> {
  const tag = randomBytes(3).toString('hex');
  const names = subnets.map((_, i) => `${prefix}-${String.fromCharCode(97 + i)}-${tag}`);
  t.teardown(async () => {
    await docker(d, ['rm', '-f', ...containers]);
    await docker(d, ['network', 'rm', ...names]);
  });
  for (const [i, subnet] of subnets.entries()) await dockerOk(d, ['network', 'create', '--subnet', subnet, names[i]!]);
  return names;
}

function fetchLocal(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

t.test('predefined networks, create, inspect, duplicate, rm, prune', { skip }, async (t) => {
  const ls = await dockerOk(d, ['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
  t.match(ls.stdout, /^bridge bridge local$/m);
  t.match(ls.stdout, /^host host local$/m);
  t.match(ls.stdout, /^none null local$/m);
  const missing = await docker(d, ['network', 'inspect', 'bt-nope']);
  t.not(missing.code, 0);
  t.match(missing.stderr, /network bt-nope not found/);

  const id = (await dockerOk(d, ['network', 'create', '--label', 'berth-test=1', '--subnet', '10.251.7.0/24', '--ip-range', '10.251.7.128/25', 'bt-net1'])).stdout.trim();
  t.match(id, /^[0-9a-f]{64}$/);
  const dup = await docker(d, ['network', 'create', 'bt-net1']);
  t.not(dup.code, 0);
  t.match(dup.stderr, /network with name bt-net1 already exists/);
  const obj = JSON.parse((await dockerOk(d, ['network', 'inspect', 'bt-net1'])).stdout)[0];
  t.same(obj.IPAM.Config, [{ Subnet: '10.251.7.0/24', Gateway: '10.251.7.1', IPRange: '10.251.7.128/25' }]);
  t.equal(obj.Labels['berth-test'], '1');
  const filtered = await dockerOk(d, ['network', 'ls', '-q', '--no-trunc', '--filter', 'label=berth-test=1']);
  t.equal(filtered.stdout.trim(), id);
  const builtin = await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}', '--filter', 'type=builtin']);
  t.same(builtin.stdout.trim().split('\n').sort(), ['bridge', 'host', 'none']);

  await dockerOk(d, ['network', 'create', '--subnet', '10.251.8.0/24', 'bt-net2']);
  const pruned = await dockerOk(d, ['network', 'prune', '-f']);
  t.match(pruned.stdout, /bt-net1/);
  t.match(pruned.stdout, /bt-net2/);
  const after = await dockerOk(d, ['network', 'ls', '--format', '{{.Name}}']);
  t.same(after.stdout.trim().split('\n').sort(), ['bridge', 'host', 'none']);
});

t.test('a network in use by a running container is refused with Docker\'s error; a stopped one\'s start then fails', { skip }, async (t) => {
  await dockerOk(d, ['network', 'create', '--subnet', '10.251.9.0/24', 'bt-net3']);
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'bt-user1']);
    await docker(d, ['network', 'rm', 'bt-net3']);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-user1', '--network', 'bt-net3', 'busybox', 'sleep', '60']);
  const inUse = await docker(d, ['network', 'rm', 'bt-net3']);
  t.not(inUse.code, 0);
  t.match(inUse.stderr, /error while removing network: network bt-net3 has active endpoints \(name:"bt-user1" id:"[0-9a-f]{12}"\)/);
  await dockerOk(d, ['stop', '-t', '1', 'bt-user1']);
  await dockerOk(d, ['network', 'rm', 'bt-net3']);
  const start = await docker(d, ['start', 'bt-user1']);
  t.not(start.code, 0);
  t.match(start.stderr, /network bt-net3 not found/);
});

t.test('a published port answers on 127.0.0.1; docker port; released at stop', { skip }, async (t) => {
  await dockerOk(d, ['run', '-d', '--name', 'bt-web', '-p', '127.0.0.1::80', 'busybox', ...httpd]);
  t.teardown(() => docker(d, ['rm', '-f', 'bt-web']));
  const port = (await dockerOk(d, ['port', 'bt-web', '80/tcp'])).stdout.trim();
  const m = /^127\.0\.0\.1:(\d+)$/.exec(port);
  t.ok(m, `docker port: ${port}`);
  const hostPort = Number(m![1]);
  let body = '';
  for (let i = 0; i < 50 && !body; i++) {
    body = await fetchLocal(hostPort).catch(() => '');
    if (!body) await new Promise((r) => setTimeout(r, 100));
  }
  t.match(body, /^hello-/);
  const ins = JSON.parse((await dockerOk(d, ['inspect', 'bt-web'])).stdout)[0];
  t.match(ins.NetworkSettings.IPAddress, /^10\.\d+\.\d+\.\d+$/);
  t.ok(ins.NetworkSettings.Networks.bridge.IPAddress);
  await dockerOk(d, ['stop', '-t', '1', 'bt-web']);
  await t.rejects(fetchLocal(hostPort), 'the port is closed at stop');
});

t.test('containers on a user network reach each other by name and alias', { skip }, async (t) => {
  const net = `bt-net-${randomBytes(3).toString('hex')}`;
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.9.0/24', net]);
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'bt-srv', 'bt-cli']);
    await docker(d, ['network', 'rm', net]);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-srv', '--network', net, '--network-alias', 'web', 'busybox', ...httpd]);
  await dockerOk(d, ['run', '-d', '--name', 'bt-cli', '--network', net, 'busybox', 'sleep', '60']);
  t.match(await wgetUntil('bt-cli', 'http://bt-srv/'), /^hello-/);
  t.match(await wgetUntil('bt-cli', 'http://web/'), /^hello-/);
  const resolv = await dockerOk(d, ['exec', 'bt-cli', 'cat', '/etc/resolv.conf']);
  t.match(resolv.stdout, /^nameserver 127\.0\.0\.11$/m);
  t.match(resolv.stdout, /^options ndots:0$/m);
  const ins = JSON.parse((await dockerOk(d, ['network', 'inspect', net])).stdout)[0];
  t.equal(Object.keys(ins.Containers).length, 2);
});

t.test('networks are isolated from each other; a live connect (--ip, --alias) joins one, disconnect leaves it', { skip }, async (t) => {
  const [a, b] = await userNetworks(t, 'bt-iso', ['10.252.12.0/24', '10.252.13.0/24'], ['bt-iso-srv', 'bt-iso-cli', 'bt-iso-peer']) as [string, string];
  await dockerOk(d, ['run', '-d', '--name', 'bt-iso-srv', '--network', a, '--ip', '10.252.12.10', 'busybox', ...httpd]);
  await dockerOk(d, ['run', '-d', '--name', 'bt-iso-cli', '--network', b, 'busybox', 'sleep', '120']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-iso-peer', '--network', a, 'busybox', 'sleep', '120']);
  // the server answers on its own network ...
  t.match(await wgetUntil('bt-iso-peer', 'http://10.252.12.10/'), /^hello-/);
  // ... and not from another network, though the host routes between the two bridges
  const across = await wgetIn('bt-iso-cli', 'http://10.252.12.10/');
  t.not(across.code, 0, 'a container of another network cannot reach it');

  // connect while running, with a fixed address and an alias: reachable both ways, by name
  await dockerOk(d, ['network', 'connect', '--ip', '10.252.12.77', '--alias', 'client', a, 'bt-iso-cli']);
  const ins = JSON.parse((await dockerOk(d, ['inspect', 'bt-iso-cli'])).stdout)[0];
  t.equal(ins.NetworkSettings.Networks[a].IPAddress, '10.252.12.77');
  t.ok(ins.NetworkSettings.Networks[a].Aliases.includes('client'));
  const addrs = await dockerOk(d, ['exec', 'bt-iso-cli', 'ip', '-o', '-4', 'addr']);
  t.match(addrs.stdout, /eth1\s+inet 10\.252\.12\.77\/24/);
  // as Docker, the container's own line for the new address is added to its /etc/hosts
  const host = ins.Config.Hostname as string;
  const firstIp = ins.NetworkSettings.Networks[b].IPAddress as string;
  const hostsLines = async () => (await dockerOk(d, ['exec', 'bt-iso-cli', 'cat', '/etc/hosts'])).stdout.split('\n');
  const connected = await hostsLines();
  t.ok(connected.includes(`${firstIp}\t${host}`), 'the first network\'s line');
  t.equal(connected.filter((l) => l === `10.252.12.77\t${host}`).length, 1, 'one line for the new address');
  t.match(await wgetUntil('bt-iso-cli', 'http://bt-iso-srv/'), /^hello-/);
  const ping = await docker(d, ['exec', 'bt-iso-peer', 'ping', '-c', '1', '-W', '2', 'client']);
  t.equal(ping.code, 0, 'the alias resolves on the network it was given on');
  t.match(ping.stdout, /10\.252\.12\.77/);

  // disconnect: the interface is gone, and the network with it
  await dockerOk(d, ['network', 'disconnect', a, 'bt-iso-cli']);
  const after = await dockerOk(d, ['exec', 'bt-iso-cli', 'ip', '-o', '-4', 'addr']);
  t.notMatch(after.stdout, /10\.252\.12\./);
  const disconnected = await hostsLines();
  t.notOk(disconnected.some((l) => l.startsWith('10.252.12.77\t')), 'its hosts line went with it');
  t.ok(disconnected.includes(`${firstIp}\t${host}`), 'the other network\'s line stays');
  t.ok(disconnected.includes('127.0.0.1\tlocalhost'));
  t.not((await wgetIn('bt-iso-cli', 'http://10.252.12.10/')).code, 0);
});

t.test('--internal: containers reach each other by name, but no default route, no other network, no outside names', { skip }, async (t) => {
  const tag = randomBytes(3).toString('hex');
  const [inner, outer, third] = [`bt-int-${tag}`, `bt-ext-${tag}`, `bt-ext2-${tag}`];
  await dockerOk(d, ['network', 'create', '--internal', '--subnet', '10.252.20.0/24', inner]);
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.21.0/24', outer]);
  const listener = createHttpServer((_req, res) => res.end('from-host\n'));
  t.teardown(async () => {
    listener.close();
    await docker(d, ['rm', '-f', 'bt-int-srv', 'bt-int-cli', 'bt-ext-srv']);
    await docker(d, ['network', 'rm', inner, outer, third]);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-int-srv', '--network', inner, 'busybox', ...httpd]);
  await dockerOk(d, ['run', '-d', '--name', 'bt-int-cli', '--network', inner, 'busybox', 'sleep', '120']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-ext-srv', '--network', outer, '--ip', '10.252.21.10', 'busybox', ...httpd]);
  // a listener of the test's own on the other network's gateway (its bridge exists now)
  await new Promise<void>((resolve, reject) => { listener.once('error', reject); listener.listen(0, '10.252.21.1', resolve); });
  const port = (listener.address() as AddressInfo).port;

  // same network: by name
  t.match(await wgetUntil('bt-int-cli', 'http://bt-int-srv/'), /^hello-/);
  // no default route: only the network's own subnet is routed
  const routes = (await dockerOk(d, ['exec', 'bt-int-cli', 'ip', 'route'])).stdout;
  t.notMatch(routes, /^default/m);
  t.match(routes, /^10\.252\.20\.0\/24 dev eth0/m);
  const ins = JSON.parse((await dockerOk(d, ['inspect', 'bt-int-cli'])).stdout)[0];
  t.equal(ins.NetworkSettings.Networks[inner].Gateway, '', 'no gateway, as Docker');
  t.match(ins.NetworkSettings.Networks[inner].IPAddress, /^10\.252\.20\./);
  // the normal network's container and the host listener answer from the normal network ...
  t.match(await wgetUntil('bt-ext-srv', `http://10.252.21.1:${port}/`), /from-host/);
  // ... but not from the internal one
  t.not((await wgetIn('bt-int-cli', 'http://10.252.21.10/')).code, 0, 'another network\'s container is out of reach');
  t.not((await wgetIn('bt-int-cli', `http://10.252.21.1:${port}/`)).code, 0, 'the other bridge\'s gateway is out of reach');
  // names: its own network's, not another network's
  t.equal((await docker(d, ['exec', 'bt-int-cli', 'nslookup', 'bt-int-srv'])).code, 0);
  t.not((await docker(d, ['exec', 'bt-int-cli', 'nslookup', 'bt-ext-srv'])).code, 0);

  // connecting the normal network gives the container its default route through that network
  await dockerOk(d, ['network', 'connect', outer, 'bt-int-cli']);
  t.match((await dockerOk(d, ['exec', 'bt-int-cli', 'ip', 'route'])).stdout, /^default via 10\.252\.21\.1 dev eth1/m);
  t.match(await wgetUntil('bt-int-cli', 'http://10.252.21.10/'), /^hello-/);

  // a second normal network, then the gateway network leaves: the default route moves to the next
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.23.0/24', third]);
  await dockerOk(d, ['network', 'connect', third, 'bt-int-cli']);
  t.match((await dockerOk(d, ['exec', 'bt-int-cli', 'ip', 'route'])).stdout, /^default via 10\.252\.21\.1 /m, 'still the first normal network');
  await dockerOk(d, ['network', 'disconnect', outer, 'bt-int-cli']);
  t.match((await dockerOk(d, ['exec', 'bt-int-cli', 'ip', 'route'])).stdout, /^default via 10\.252\.23\.1 dev eth2/m);
});

t.test('127.0.0.11 keeps answering with the names of the networks a container is on after it left its first', { skip }, async (t) => {
  const [first, second] = await userNetworks(t, 'bt-mv', ['10.252.24.0/24', '10.252.25.0/24'], ['bt-mv-srv', 'bt-mv-cli']) as [string, string];
  await dockerOk(d, ['run', '-d', '--name', 'bt-mv-srv', '--network', second, '--ip', '10.252.25.7', 'busybox', 'sleep', '120']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-mv-cli', '--network', first, 'busybox', 'sleep', '120']);
  await dockerOk(d, ['network', 'connect', second, 'bt-mv-cli']);
  await dockerOk(d, ['network', 'disconnect', first, 'bt-mv-cli']);
  const r = await docker(d, ['exec', 'bt-mv-cli', 'nslookup', 'bt-mv-srv']);
  t.equal(r.code, 0, r.stdout + r.stderr);
  t.match(r.stdout, /10\.252\.25\.7/);
});

/** A DNS query for `name` (type A, recursion desired) after its 2-byte length, as sent over TCP. */
function framedQuery(id: number, name: string): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const msg = Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  return Buffer.concat([Buffer.from([msg.length >> 8, msg.length & 255]), msg]);
}

t.test('embedded DNS over TCP at 127.0.0.11:53: framed queries on one connection, each answered framed', { skip }, async (t) => {
  const net = `bt-tcpdns-${randomBytes(3).toString('hex')}`;
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.22.0/24', net]);
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'bt-tcpdns-srv', 'bt-tcpdns-cli']);
    await docker(d, ['network', 'rm', net]);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-tcpdns-srv', '--network', net, '--ip', '10.252.22.9', 'busybox', 'sleep', '120']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-tcpdns-cli', '--network', net, 'busybox', 'sleep', '120']);
  // two queries in one write; the client's half-close must not lose their answers
  const input = Buffer.concat([framedQuery(0x1234, 'bt-tcpdns-srv'), framedQuery(0x5678, 'bt-nosuchname')]);
  const r = await dockerOk(d, ['exec', '-i', 'bt-tcpdns-cli', 'sh', '-c', 'timeout 5 nc 127.0.0.11 53 | od -An -v -tx1'], { input });
  const out = Buffer.from(r.stdout.replace(/\s+/g, ''), 'hex');
  const first = out.subarray(2, 2 + out.readUInt16BE(0));
  const second = out.subarray(4 + first.length, 4 + first.length + out.readUInt16BE(2 + first.length));
  t.equal(first.readUInt16BE(0), 0x1234, 'the first answer carries the first query\'s ID');
  t.equal(first.readUInt16BE(2) & 15, 0, 'NOERROR');
  t.equal(first.readUInt16BE(6), 1, 'one answer record');
  t.same([...first.subarray(first.length - 4)], [10, 252, 22, 9], 'the server\'s address');
  t.equal(second.length > 12 && second.readUInt16BE(0), 0x5678, 'the second answer carries the second query\'s ID');
  t.equal(second.readUInt16BE(2) & 15, 3, 'NXDOMAIN for an unknown short name');
});

t.test('--network none keeps loopback only', { skip }, async (t) => {
  const r = await dockerOk(d, ['run', '--rm', '--network', 'none', 'busybox', 'ip', '-o', 'link']);
  t.notMatch(r.stdout, /eth0/);
});

t.test('--network container:<name> shares the namespace and files; Docker\'s conflicts', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'bt-owner', 'bt-joiner']));
  await dockerOk(d, ['run', '-d', '--name', 'bt-owner', 'busybox', 'sleep', '60']);
  const ownerIp = (await dockerOk(d, ['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'bt-owner'])).stdout.trim();
  const ownerHost = (await dockerOk(d, ['inspect', '-f', '{{.Config.Hostname}}', 'bt-owner'])).stdout.trim();
  const joined = await dockerOk(d, ['run', '--rm', '--network', 'container:bt-owner', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; cat /etc/hostname /etc/hosts']);
  t.match(joined.stdout, `inet ${ownerIp}/`);
  t.match(joined.stdout, new RegExp(`^${ownerHost}$`, 'm'));
  t.match(joined.stdout, new RegExp(`^${ownerIp.replace(/\./g, '\\.')}\t${ownerHost}$`, 'm'));
  const withHostname = await docker(d, ['create', '--network', 'container:bt-owner', '-h', 'x', 'busybox', 'true']);
  t.match(withHostname.stderr, /conflicting options: hostname and the network mode/);
  const withPorts = await docker(d, ['create', '--network', 'container:bt-owner', '-p', '80', 'busybox', 'true']);
  t.match(withPorts.stderr, /conflicting options: port publishing and the container type network mode/);
  await dockerOk(d, ['create', '--name', 'bt-joiner', '--network', 'container:bt-owner', 'busybox', 'true']);
  await dockerOk(d, ['stop', '-t', '1', 'bt-owner']);
  const late = await docker(d, ['start', 'bt-joiner']);
  t.not(late.code, 0);
  t.match(late.stderr, /cannot join network of a non running container: bt-owner/);
});

t.test('network connect refuses what dockerd refuses, with its words and 400: a shared namespace, host, none', { skip }, async (t) => {
  const names = ['bt-cn-owner', 'bt-cn-joiner', 'bt-cn-none', 'bt-cn-host', 'bt-cn-bridge'];
  t.teardown(async () => {
    await docker(d, ['rm', '-f', ...names]);
    await docker(d, ['network', 'rm', 'bt-cn-net']);
  });
  await dockerOk(d, ['network', 'create', 'bt-cn-net']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-cn-owner', 'busybox', 'sleep', '60']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-cn-joiner', '--network', 'container:bt-cn-owner', 'busybox', 'sleep', '60']);
  await dockerOk(d, ['create', '--name', 'bt-cn-none', '--network', 'none', 'busybox', 'true']);
  await dockerOk(d, ['create', '--name', 'bt-cn-host', '--network', 'host', 'busybox', 'true']);
  await dockerOk(d, ['create', '--name', 'bt-cn-bridge', 'busybox', 'true']);
  const shared = /container sharing network namespace with another container or host cannot be connected to any other network/;
  const refused: Array<[string, string, RegExp]> = [
    ['bt-cn-net', 'bt-cn-joiner', shared],
    ['bt-cn-net', 'bt-cn-host', shared],
    ['bt-cn-net', 'bt-cn-none', /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/],
    ['none', 'bt-cn-bridge', /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/],
    ['host', 'bt-cn-bridge', /container cannot be disconnected from host network or connected to host network/],
  ];
  for (const [net, ctr, msg] of refused) {
    const r = await docker(d, ['network', 'connect', net, ctr]);
    t.not(r.code, 0, `${ctr} to ${net} is refused`);
    t.match(r.stderr, msg);
  }
  const raw = await d.request('POST', '/networks/bt-cn-net/connect', { Container: 'bt-cn-joiner' });
  t.equal(raw.status, 400, 'a validation error, as dockerd answers it');
  const ip = await dockerOk(d, ['exec', 'bt-cn-joiner', 'ip', '-o', 'link']);
  t.equal(ip.stdout.trim().split('\n').filter((l) => / eth\d/.test(l)).length, 1, 'the shared namespace still has the owner\'s one interface');
  const inspect = await dockerOk(d, ['network', 'inspect', '-f', '{{len .Containers}}', 'bt-cn-net']);
  t.equal(inspect.stdout.trim(), '0', 'nothing was recorded on the network');
});

t.test('--hostname, --domainname, --add-host (host-gateway), --dns*, --mac-address as Docker writes them', { skip }, async (t) => {
  const gw = JSON.parse((await dockerOk(d, ['network', 'inspect', 'bridge'])).stdout)[0].IPAM.Config[0].Gateway;
  const r = await dockerOk(d, ['run', '--rm', '-h', 'web', '--domainname', 'example.org', '--add-host', 'db.local:10.9.8.7',
    '--add-host', 'host.docker.internal:host-gateway', '--dns', '192.0.2.53', '--dns-search', 'a.example', '--dns-option', 'ndots:3',
    '--mac-address', '02:42:0a:0b:0c:0d', 'busybox', 'sh', '-c', 'hostname; cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; ip -o link show eth0']);
  const [hostsPart, resolv, link] = r.stdout.split('---\n') as [string, string, string];
  t.match(hostsPart, /^web\n127\.0\.0\.1\tlocalhost\n/);
  t.match(hostsPart, /^10\.9\.8\.7\tdb\.local$/m);
  t.match(hostsPart, new RegExp(`^${gw.replace(/\./g, '\\.')}\thost\.docker\.internal$`, 'm'));
  t.match(hostsPart, /^10\.\d+\.\d+\.\d+\tweb\.example\.org web$/m);
  t.equal(resolv, [
    '# Generated by Docker Engine.', '# This file can be edited; Docker Engine will not make further changes once it', '# has been modified.', '',
    'nameserver 192.0.2.53', 'search a.example', 'options ndots:3', '',
    "# Based on host file: '/etc/resolv.conf' (legacy)", '# Overrides: [nameservers search options]', '',
  ].join('\n'));
  t.match(link, /link\/ether 02:42:0a:0b:0c:0d /);
});

t.test('--network host: the host\'s name and interfaces', { skip }, async (t) => {
  const r = await dockerOk(d, ['run', '--rm', '--network', 'host', 'busybox', 'hostname']);
  t.equal(r.stdout.trim(), hostname());
});

t.test('a user network: outbound NAT while in use; no bridge, link or rule left once container and network are gone', { skip }, async (t) => {
  const net = `bt-nat-${randomBytes(3).toString('hex')}`;
  const id = (await dockerOk(d, ['network', 'create', '--subnet', '10.252.11.0/24', net])).stdout.trim();
  const bridge = `br-${id.slice(0, 12)}`;
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'bt-nat']);
    await docker(d, ['network', 'rm', net]);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-nat', '--network', net, '-p', '127.0.0.1::80', 'busybox', 'sleep', '60']);
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
  t.match(rules, new RegExp(`-A POSTROUTING -s 10\\.252\\.11\\.0/24 ! -o ${bridge} .*-j MASQUERADE`));
  const links = spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout;
  t.equal(links.trim().split('\n').length, 1, 'one veth on the bridge');
  await dockerOk(d, ['rm', '-f', 'bt-nat']);
  t.equal(spawnSync('ip', ['-o', 'link', 'show', 'master', bridge], { encoding: 'utf8' }).stdout.trim(), '', 'the veth is gone');
  await dockerOk(d, ['network', 'rm', net]);
  t.not(spawnSync('ip', ['link', 'show', bridge], { stdio: 'ignore' }).status, 0, 'the bridge is gone');
  t.notMatch(spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout, `berth:${bridge}`, 'its rules are gone');
});

t.test('embedded DNS at 127.0.0.11: names, aliases and IDs of the network; other names go to --dns (a stub on loopback)', { skip }, async (t) => {
  const stubIp = `127.77.${randomBytes(1)[0]! % 250}.${1 + (randomBytes(1)[0]! % 250)}`;
  const stub = createSocket('udp4');
  const asked: string[] = [];
  stub.on('message', (msg, rinfo) => {
    asked.push(msg.subarray(12).toString('latin1'));
    const reply = answer(msg, ['192.0.2.7']);
    if (reply) stub.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => stub.bind(53, stubIp, resolve));
  const net = `bt-dns-${randomBytes(3).toString('hex')}`;
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.12.0/24', net]);
  t.teardown(async () => {
    stub.close();
    await docker(d, ['rm', '-f', 'bt-dns1']);
    await docker(d, ['network', 'rm', net]);
  });
  const id = (await dockerOk(d, ['run', '-d', '--name', 'bt-dns1', '--network', net, '--network-alias', 'db-alias', 'busybox', 'sleep', '60'])).stdout.trim();
  const ip = (await dockerOk(d, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, 'bt-dns1'])).stdout.trim();
  const look = (name: string) => docker(d, ['run', '--rm', '--network', net, '--dns', stubIp, 'busybox', 'nslookup', '-type=a', name]);
  for (const name of ['bt-dns1', 'db-alias', id.slice(0, 12), `bt-dns1.${net}`, `db-alias.${net}`]) {
    const r = await look(name);
    t.match(r.stdout, new RegExp(`Address: ${ip.replace(/\./g, '\\.')}\\b`), `${name} resolves to the container`);
  }
  const outside = await look('outside.example');
  t.match(outside.stdout, /Address: 192\.0\.2\.7\b/, 'forwarded to the stub');
  t.ok(asked.some((q) => q.includes('outside')), 'the stub was asked');
  const resolv = await dockerOk(d, ['run', '--rm', '--network', net, '--dns', stubIp, 'busybox', 'cat', '/etc/resolv.conf']);
  t.match(resolv.stdout, /^nameserver 127\.0\.0\.11\n/m);
  t.match(resolv.stdout, `# ExtServers: [${stubIp}]`);
  const gone = await look('bt-nobody');
  t.notMatch(gone.stdout, /Address: 10\./, 'an unknown single name is not found');
});

async function fetchRetry(port: number): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const body = await fetchLocal(port).catch(() => '');
    if (body) return body;
    await new Promise((r) => setTimeout(r, 100));
  }
  return '';
}

t.test('published ports: a fixed host port, Docker\'s error when taken, ps and its filters, -P, from another container, back after restart', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'bt-p1', 'bt-p2', 'bt-p3']));
  const port = await freePort();
  await dockerOk(d, ['run', '-d', '--name', 'bt-p1', '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd]);
  t.match(await fetchRetry(port), /^hello-/);
  const ps = await dockerOk(d, ['ps', '--filter', 'name=bt-p1', '--format', '{{.Ports}}']);
  t.equal(ps.stdout.trim(), `127.0.0.1:${port}->80/tcp`);
  for (const f of ['publish=80', 'publish=80/tcp', 'expose=79-81', 'network=bridge']) {
    const r = await dockerOk(d, ['ps', '-q', '--filter', f, '--filter', 'name=bt-p1']);
    t.not(r.stdout.trim(), '', `ps --filter ${f}`);
  }
  t.equal((await dockerOk(d, ['ps', '-q', '--filter', 'publish=81', '--filter', 'name=bt-p1'])).stdout.trim(), '', 'publish=81 does not match');

  const taken = await docker(d, ['run', '-d', '--name', 'bt-p2', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '60']);
  t.not(taken.code, 0);
  t.match(taken.stderr, new RegExp(`driver failed programming external connectivity on endpoint bt-p2 \\([0-9a-f]{64}\\): failed to bind host port for 127\\.0\\.0\\.1:${port}:10\\.[0-9.]+:80/tcp: address already in use`));
  t.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Status}}', 'bt-p2'])).stdout.trim(), 'created');

  await dockerOk(d, ['run', '-d', '--name', 'bt-p3', '--expose', '80', '-P', 'busybox', ...httpd]);
  const all = (await dockerOk(d, ['port', 'bt-p3', '80'])).stdout.trim();
  const m = /^0\.0\.0\.0:(\d+)$/m.exec(all);
  t.ok(m, `-P publishes the exposed port: ${all}`);
  t.match(await fetchRetry(Number(m![1])), /^hello-/);
  const gw = JSON.parse((await dockerOk(d, ['network', 'inspect', 'bridge'])).stdout)[0].IPAM.Config[0].Gateway;
  const fromPeer = await dockerOk(d, ['run', '--rm', 'busybox', 'wget', '-qO-', `http://${gw}:${m![1]}/`]);
  t.match(fromPeer.stdout, /^hello-/, 'another container reaches the published port through the gateway');

  await dockerOk(d, ['restart', '-t', '1', 'bt-p1']);
  t.match(await fetchRetry(port), /^hello-/, 'the port is back after a restart');
});

t.test('a published UDP port carries datagrams both ways between the host\'s loopback and the container', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'bt-udp']));
  const port = await freePort();
  // busybox has no UDP server: a static echo server (fixtures/udp-echo.c) bound in
  const dir = mkdtempSync(join(tmpdir(), 'bt-udp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cc = spawnSync('cc', ['-static', '-O2', '-o', join(dir, 'udp-echo'), join(repoRoot, 'test/e2e/fixtures/udp-echo.c')], { encoding: 'utf8' });
  t.equal(cc.status, 0, cc.stderr);
  await dockerOk(d, ['run', '-d', '--name', 'bt-udp', '-p', `127.0.0.1:${port}:7777/udp`, '-v', `${dir}/udp-echo:/udp-echo:ro`,
    'busybox', '/udp-echo', '7777']);
  t.match((await dockerOk(d, ['port', 'bt-udp'])).stdout, new RegExp(`^7777/udp -> 127\\.0\\.0\\.1:${port}$`, 'm'));
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  let got = '';
  sock.on('message', (m) => { got = m.toString(); });
  for (let i = 0; i < 50 && !got; i++) {
    sock.send('ping berth\n', port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
  }
  t.match(got, /^PING BERTH/, 'the datagram reached the container and its answer came back');
});

t.test('stats: network counters of the container\'s own interfaces; none without a network of its own', { skip }, async (t) => {
  t.teardown(() => docker(d, ['rm', '-f', 'bt-st', 'bt-st-none']));
  await dockerOk(d, ['run', '-d', '--name', 'bt-st', 'busybox', 'sleep', '60']);
  await dockerOk(d, ['run', '-d', '--name', 'bt-st-none', '--network', 'none', 'busybox', 'sleep', '60']);
  const gw = JSON.parse((await dockerOk(d, ['network', 'inspect', 'bridge'])).stdout)[0].IPAM.Config[0].Gateway;
  await dockerOk(d, ['exec', 'bt-st', 'ping', '-c', '1', '-W', '2', gw]);
  const s = JSON.parse((await d.request('GET', '/containers/bt-st/stats?stream=false&one-shot=true')).body);
  t.same(Object.keys(s.networks), ['eth0']);
  t.ok(s.networks.eth0.tx_packets >= 1 && s.networks.eth0.rx_bytes > 0, 'the ping was counted');
  const none = JSON.parse((await d.request('GET', '/containers/bt-st-none/stats?stream=false&one-shot=true')).body);
  t.notOk('networks' in none, 'no networks key for --network none');
});

// last: it restarts the daemon the other tests share
t.test('a daemon restart keeps running containers connected: names, aliases, a published port, the network\'s rules', { skip }, async (t) => {
  const net = `bt-rs-${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  await dockerOk(d, ['network', 'create', '--subnet', '10.252.14.0/24', net]);
  t.teardown(async () => {
    await docker(d, ['rm', '-f', 'bt-rs-srv', 'bt-rs-cli']);
    await docker(d, ['network', 'rm', net]);
  });
  await dockerOk(d, ['run', '-d', '--name', 'bt-rs-srv', '--network', net, '--network-alias', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', ...httpd]);
  await dockerOk(d, ['run', '-d', '--name', 'bt-rs-cli', '--network', net, 'busybox', 'sleep', '300']);
  t.match(await wgetUntil('bt-rs-cli', 'http://web/'), /^hello-/);
  const ins = JSON.parse((await dockerOk(d, ['network', 'inspect', net])).stdout)[0];
  const bridge = `br-${ins.Id.slice(0, 12)}`;

  await d.restart();
  t.equal((await dockerOk(d, ['inspect', '-f', '{{.State.Running}}', 'bt-rs-srv'])).stdout.trim(), 'true', 'live restore kept it running');
  t.match(await wgetUntil('bt-rs-cli', 'http://web/'), /^hello-/, 'the alias resolves and answers after the restart');
  t.match(await wgetUntil('bt-rs-cli', 'http://bt-rs-srv/'), /^hello-/);
  t.match(await fetchRetry(port), /^hello-/, 'the published port is served again');
  const rules = spawnSync('iptables-save', [], { encoding: 'utf8' }).stdout;
  t.match(rules, new RegExp(`-A POSTROUTING -s 10\\.252\\.14\\.0/24 ! -o ${bridge} .*-j MASQUERADE`), 'NAT for the network is there once');
  t.equal(rules.split('\n').filter((l) => l.includes('MASQUERADE') && l.includes(`berth:${bridge}`)).length, 1, 'not doubled by the restart');
});
