"""The Docker SDK for Python (Debian's python3-docker) against the berthd in DOCKER_HOST.

Run by test/clients/python-sdk.test.ts with Debian's /usr/bin/python3, which sees only
/usr/lib/python3/dist-packages; the script refuses any other copy of the SDK so the version
under test is known. Writes TAP 14 on stdout: one test point per behaviour checked, each
section in its own subtest so one failure does not hide the rest.
The daemon is the test's own: its image is busybox:latest, imported offline by the test.
"""
import io
import json
import os
import socket
import sys
import tarfile
import tempfile
import threading
import time
import traceback

DEBIAN_SITE = '/usr/lib/python3/dist-packages'
sys.path.insert(0, DEBIAN_SITE)
import docker  # noqa: E402
from docker.utils.socket import frames_iter, consume_socket_output, demux_adaptor  # noqa: E402

IMAGE = 'busybox:latest'
# Set while container networking (bridge, endpoints in inspect) is not yet wired into berthd.
NETWORK_PENDING = None
# SDK_API_VERSION: the version the client pins (default: the SDK's own default, 1.41 in 5.0.3);
# "auto" asks the daemon, as docker.from_env() does when given no version.
API_VERSION = os.environ.get('SDK_API_VERSION') or docker.constants.DEFAULT_DOCKER_API_VERSION


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, cond, name, **diag):
        self.count += 1
        if not cond:
            self.failed += 1
        print(('ok' if cond else 'not ok') + ' %d - %s' % (self.count, name))
        if not cond and diag:
            print('  ---')
            for k, v in diag.items():
                print('  %s: %s' % (k, json.dumps(v, default=repr)))
            print('  ...')
        sys.stdout.flush()
        return cond

    def skip(self, name, reason):
        self.count += 1
        print('ok %d - %s # SKIP %s' % (self.count, name, reason))

    def eq(self, got, want, name):
        return self.ok(got == want, name, found=got, wanted=want)

    def raises(self, exc_type, fn, name):
        try:
            fn()
        except exc_type as e:
            self.ok(True, name)
            return e
        except Exception as e:  # noqa: BLE001 - the wrong exception is the failure reported
            self.ok(False, name, found=repr(e), wanted=exc_type.__name__)
            return None
        self.ok(False, name, found='no exception', wanted=exc_type.__name__)
        return None


tap = Tap()
sections = []


def section(fn):
    sections.append(fn)
    return fn


def run_sections(client, only):
    print('TAP version 14')
    print('# docker SDK %s from %s, API version %s' % (docker.__version__, os.path.dirname(docker.__file__), client.api.api_version))
    for fn in sections:
        if only and fn.__name__ not in only:
            continue
        outer = tap
        inner = Tap()
        globals()['tap'] = inner
        print('# Subtest: %s' % fn.__name__)
        saved = sys.stdout
        buf = io.StringIO()
        sys.stdout = buf
        try:
            fn(client)
        except Exception:  # noqa: BLE001 - an unexpected exception fails the section
            inner.ok(False, 'no unexpected exception', traceback=traceback.format_exc())
        sys.stdout = saved
        for line in buf.getvalue().splitlines():
            print('    ' + line)
        print('    1..%d' % inner.count)
        globals()['tap'] = outer
        outer.ok(inner.failed == 0 and inner.count > 0, fn.__name__)
    print('1..%d' % tap.count)
    return tap.failed


def until(pred, tries=200, pause=0.05):
    """Polls pred() until it is truthy; returns its last value."""
    v = pred()
    for _ in range(tries):
        if v:
            return v
        time.sleep(pause)
        v = pred()
    return v


@section
def system(client):
    tap.ok(client.ping() is True, 'ping() is True')
    v = client.version()
    tap.eq(v['ApiVersion'], '1.45', 'version(): ApiVersion 1.45')
    tap.ok(v.get('MinAPIVersion', '9') <= '1.41', 'version(): MinAPIVersion admits the SDK\'s 1.41', found=v.get('MinAPIVersion'))
    tap.eq((v['Os'], v['Arch'] in ('amd64', 'arm64')), ('linux', True), 'version(): Os and Arch')
    tap.ok(any(c.get('Name') == 'Engine' for c in v.get('Components', [])), 'version(): an Engine component')
    info = client.info()
    for key in ('ID', 'Containers', 'Images', 'Driver', 'DockerRootDir', 'KernelVersion', 'NCPU', 'MemTotal', 'OperatingSystem'):
        tap.ok(key in info, 'info() has %s' % key)
    tap.ok(info['Images'] >= 1, 'info(): the test image counts', found=info['Images'])
    tap.eq(client.api.api_version, API_VERSION if API_VERSION != 'auto' else '1.45', 'the SDK speaks the API version asked for')


@section
def images(client):
    img = client.images.get(IMAGE)
    tap.ok(img.id.startswith('sha256:'), 'images.get: a sha256 id')
    tap.ok(IMAGE in img.tags, 'images.get: tags name the image', found=img.tags)
    tap.ok(any(i.id == img.id for i in client.images.list()), 'images.list holds it')
    tap.ok(img.tag('clients/copy', 'v1') is True, 'Image.tag returns True')
    tap.eq(client.images.get('clients/copy:v1').id, img.id, 'the new tag names the same image')
    tap.ok(len(client.images.list(name='clients/copy')) == 1, 'images.list(name=) filters by reference')

    # save (get), then remove, then load back
    data = b''.join(client.images.get('clients/copy:v1').save(named=True))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        manifest = json.load(tf.extractfile('manifest.json'))
    tap.eq(manifest[0]['RepoTags'], ['clients/copy:v1'], 'Image.save(named=True): manifest.json names the tag')
    deleted = client.api.remove_image('clients/copy:v1')
    tap.eq(deleted, [{'Untagged': 'clients/copy:v1'}], 'images.remove of an extra tag only untags')
    tap.raises(docker.errors.ImageNotFound, lambda: client.images.get('clients/copy:v1'), 'the removed tag is gone: ImageNotFound')
    loaded = client.images.load(data)
    tap.eq([i.id for i in loaded], [img.id], 'images.load returns the loaded image')
    tap.ok('clients/copy:v1' in loaded[0].tags, 'images.load restores the tag', found=loaded[0].tags)
    client.images.remove('clients/copy:v1')

    # build from a directory with a file to COPY, and from a bare Dockerfile object
    ctx = tempfile.mkdtemp(prefix='sdk-ctx-')
    with open(os.path.join(ctx, 'greeting'), 'w') as f:
        f.write('hello from the context\n')
    with open(os.path.join(ctx, 'Dockerfile'), 'w') as f:
        f.write('FROM %s\nARG WHO=nobody\nLABEL clients.test=sdk\nCOPY greeting /greeting\n'
                'RUN echo "built by $WHO" > /built\nENV COLOUR=blue\nCMD ["sh", "-c", "cat /greeting /built; echo $COLOUR"]\n' % IMAGE)
    built, logs = client.images.build(path=ctx, tag='clients/built:1', buildargs={'WHO': 'sdk'}, rm=True)
    logs = list(logs)
    tap.ok(any('Successfully built' in l.get('stream', '') for l in logs), 'images.build: the log says Successfully built', found=logs[-3:])
    tap.ok(any('Successfully tagged clients/built:1' in l.get('stream', '') for l in logs), 'images.build: the log says Successfully tagged')
    tap.ok('clients/built:1' in built.tags, 'images.build returns the tagged image', found=built.tags)
    tap.eq(built.labels, {'clients.test': 'sdk'}, 'the built image has the LABEL')
    out = client.containers.run('clients/built:1', remove=True)
    tap.eq(out, b'hello from the context\nbuilt by sdk\nblue\n', 'a container of the built image runs its CMD')

    dockerfile = io.BytesIO(('FROM %s\nRUN echo one > /one\n' % IMAGE).encode())
    built2, _ = client.images.build(fileobj=dockerfile, tag='clients/fileobj')
    tap.eq(client.containers.run(built2.id, ['cat', '/one'], remove=True), b'one\n', 'images.build(fileobj=) builds')
    err = tap.raises(docker.errors.BuildError, lambda: client.images.build(fileobj=io.BytesIO(b'FROM %s\nRUN exit 3\n' % IMAGE.encode())),
                     'a failing RUN raises BuildError')
    if err is not None:
        tap.ok('returned a non-zero code: 3' in str(err), 'BuildError carries the RUN error', found=str(err))

    client.images.remove('clients/built:1')
    tap.raises(docker.errors.ImageNotFound, lambda: client.images.get('clients/built:1'), 'images.remove deleted the built image')
    tap.raises(docker.errors.ImageNotFound, lambda: client.images.remove('clients/never'), 'images.remove of an unknown name: ImageNotFound')


@section
def containers(client):
    tap.eq(client.containers.run(IMAGE, ['sh', '-c', 'echo out; echo err >&2'], remove=True), b'out\n',
           'containers.run returns stdout')
    tap.eq(client.containers.run(IMAGE, ['sh', '-c', 'echo err >&2'], stdout=False, stderr=True, remove=True), b'err\n',
           'containers.run(stdout=False, stderr=True) returns stderr')
    err = tap.raises(docker.errors.ContainerError, lambda: client.containers.run(IMAGE, ['sh', '-c', 'echo bad >&2; exit 3']),
                     'a non-zero exit raises ContainerError')
    if err is not None:
        tap.eq((err.exit_status, err.stderr), (3, b'bad\n'), 'ContainerError has the exit status and stderr')
        err.container.remove()
    tap.raises(docker.errors.ImageNotFound, lambda: client.containers.create('clients/missing:1'),
               'containers.create of a missing image: ImageNotFound')

    c = client.containers.run(IMAGE, ['sh', '-c', 'echo "E=$E"; echo second; sleep 1000'], detach=True, name='sdk-run',
                              labels={'clients.test': 'sdk'}, environment={'E': 'v'}, working_dir='/tmp',
                              hostname='sdkhost')
    tap.eq(c.name, 'sdk-run', 'run(detach=True) returns the named Container')
    c.reload()
    tap.eq(c.status, 'running', 'status is running')
    tap.eq(c.labels, {'clients.test': 'sdk'}, 'labels')
    tap.ok('E=v' in c.attrs['Config']['Env'], 'environment in Config.Env')
    tap.eq((c.attrs['Config']['WorkingDir'], c.attrs['Config']['Hostname']), ('/tmp', 'sdkhost'), 'working_dir and hostname')
    tap.eq(c.image.id, client.images.get(IMAGE).id, 'Container.image')
    tap.ok(any(x.id == c.id for x in client.containers.list(filters={'label': 'clients.test=sdk'})),
           'containers.list(filters=label) finds it')
    tap.eq(client.containers.get('sdk-run').id, c.id, 'containers.get by name')

    stream = c.logs(stream=True, follow=True)
    lines = b''
    for chunk in stream:
        lines += chunk
        if lines.count(b'\n') >= 2:
            break
    stream.close()
    tap.eq(lines, b'E=v\nsecond\n', 'logs(stream=True, follow=True) yields the output as it comes')
    tap.eq(c.logs(), b'E=v\nsecond\n', 'logs() returns everything so far')
    tap.eq(c.logs(tail=1), b'second\n', 'logs(tail=1)')
    tap.ok(c.logs(timestamps=True).split(b' ', 1)[0].endswith(b'Z'), 'logs(timestamps=True) prefixes RFC 3339 times')

    r = c.exec_run(['sh', '-c', 'echo hi; echo oops >&2; exit 3'])
    tap.eq(r.exit_code, 3, 'exec_run: exit code')
    tap.ok(set(r.output.splitlines()) == {b'hi', b'oops'}, 'exec_run: stdout and stderr together', found=r.output)
    r = c.exec_run(['sh', '-c', 'echo hi; echo oops >&2'], demux=True)
    tap.eq(r.output, (b'hi\n', b'oops\n'), 'exec_run(demux=True): (stdout, stderr)')
    r = c.exec_run(['sh', '-c', 'echo $X $(id -u) $(pwd)'], environment={'X': 'y'}, user='1000', workdir='/home')
    tap.eq(r.output, b'y 1000 /home\n', 'exec_run: environment, user, workdir')
    r = c.exec_run(['sh', '-c', 'echo a; echo b'], stream=True)
    tap.eq(r.exit_code, None, 'exec_run(stream=True): no exit code yet')
    tap.eq(b''.join(r.output), b'a\nb\n', 'exec_run(stream=True) yields the output')
    r = c.exec_run('tty', tty=True)
    tap.ok(r.output.startswith(b'/dev/pts/'), 'exec_run(tty=True) gets a terminal', found=r.output)
    r = c.exec_run(['sh', '-c', 'sleep 1000'], detach=True)
    tap.eq(r.output, '', 'exec_run(detach=True) returns at once with an empty body')
    top = c.top()
    tap.ok(any('sleep 1000' in ' '.join(p) for p in top['Processes']), 'top shows the exec\'s process')

    c.stop(timeout=1)
    tap.eq(c.wait(), {'Error': None, 'StatusCode': 137}, 'wait() after stop: 137')
    c.reload()
    tap.eq(c.status, 'exited', 'status is exited')
    c.remove()
    tap.raises(docker.errors.NotFound, lambda: client.containers.get('sdk-run'), 'removed: NotFound')

    # create, attach_socket before start, start, write stdin, read the multiplexed output
    c = client.containers.create(IMAGE, ['sh', '-c', 'read line; echo "got:$line"; echo warn >&2; exit 5'], stdin_open=True,
                                 name='sdk-attach')
    tap.eq(c.status, 'created', 'containers.create: status created')
    sock = c.attach_socket(params={'stdin': 1, 'stdout': 1, 'stderr': 1, 'stream': 1})
    c.start()
    raw = sock._sock
    raw.sendall(b'hello\n')
    frames = list(frames_iter(sock, tty=False))
    out = b''.join(d for s, d in frames if s == 1)
    err = b''.join(d for s, d in frames if s == 2)
    tap.eq((out, err), (b'got:hello\n', b'warn\n'), 'attach_socket: stdin in, stdout and stderr frames out')
    sock.close()
    tap.eq(c.wait(), {'Error': None, 'StatusCode': 5}, 'wait(): the exit code')
    tap.eq(c.wait(condition='not-running'), {'Error': None, 'StatusCode': 5}, 'wait(condition=not-running) on an exited container')
    c.reload()
    tap.eq(c.attrs['State']['ExitCode'], 5, 'State.ExitCode')

    # attach(stream=True) of a tty container: raw bytes, no frames
    c2 = client.containers.create(IMAGE, ['sh', '-c', 'echo tty-out'], tty=True)
    s2 = c2.attach_socket(params={'stdout': 1, 'stream': 1})
    c2.start()
    got = b''.join(d for _, d in frames_iter(s2, tty=True))
    tap.ok(b'tty-out' in got, 'attach_socket on a tty: raw output', found=got)
    s2.close()
    c2.wait()

    # auto_remove: the container goes once it stops (a wait for "removed" issued after that
    # would find nothing, as with dockerd, so the check polls the low-level list)
    c3 = client.containers.create(IMAGE, ['sleep', '1000'], auto_remove=True)
    c3.start()
    c3.stop(timeout=0)
    tap.ok(until(lambda: not any(x['Id'] == c3.id for x in client.api.containers(all=True))), 'auto_remove removed the container')
    tap.raises(docker.errors.NotFound, c3.reload, 'inspect of the removed container: NotFound')

    pruned = client.containers.prune()
    tap.ok(c.id in (pruned.get('ContainersDeleted') or []), 'containers.prune removes the stopped ones', found=pruned)


@section
def container_ops(client):
    c = client.containers.run(IMAGE, ['sh', '-c', 'trap "echo got-usr1" USR1; while :; do sleep 1; done'], detach=True, name='sdk-ops')
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tf:
        data = b'put by the sdk\n'
        info = tarfile.TarInfo('note.txt')
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    tap.ok(c.put_archive('/tmp', buf.getvalue()) is True, 'put_archive returns True')
    stream, stat = c.get_archive('/tmp/note.txt')
    tap.eq((stat['name'], stat['size']), ('note.txt', 15), 'get_archive: the stat header')
    with tarfile.open(fileobj=io.BytesIO(b''.join(stream))) as tf:
        tap.eq(tf.extractfile('note.txt').read(), b'put by the sdk\n', 'get_archive: the file back')
    tap.ok(any(ch['Path'] == '/tmp/note.txt' for ch in c.diff()), 'diff lists the new file', found=c.diff())
    st = c.stats(stream=False)
    tap.ok(st['memory_stats'].get('usage', 0) > 0 and 'cpu_stats' in st, 'stats(stream=False): one sample with memory and cpu')
    c.pause()
    c.reload()
    tap.eq(c.status, 'paused', 'pause')
    c.unpause()
    c.reload()
    tap.eq(c.status, 'running', 'unpause')
    c.rename('sdk-ops-renamed')
    c.reload()
    tap.eq(c.name, 'sdk-ops-renamed', 'rename')
    c.kill(signal='SIGUSR1')
    tap.ok(until(lambda: b'got-usr1' in c.logs()), 'kill(signal=SIGUSR1) reaches the process')
    c.update(mem_limit='64m', memswap_limit='128m')
    c.reload()
    tap.eq(c.attrs['HostConfig']['Memory'], 64 * 1024 * 1024, 'update(mem_limit=)')
    img = c.commit(repository='clients/committed', tag='1', changes=['ENV COMMITTED=yes'])
    tap.ok('clients/committed:1' in img.tags, 'commit returns the tagged image')
    tap.eq(client.containers.run(img.id, ['sh', '-c', 'cat /tmp/note.txt; echo $COMMITTED'], remove=True), b'put by the sdk\nyes\n',
           'the committed image has the file and the change')
    c.restart(timeout=1)
    c.reload()
    tap.eq((c.status, c.attrs['RestartCount']), ('running', 0), 'restart: running again')
    c.remove(force=True)
    tap.raises(docker.errors.NotFound, c.reload, 'remove(force=True) of a running container')


@section
def volumes(client):
    v = client.volumes.create('sdk-vol', labels={'clients.test': 'sdk'})
    tap.eq((v.name, v.attrs['Driver'], v.attrs['Labels']), ('sdk-vol', 'local', {'clients.test': 'sdk'}), 'volumes.create')
    tap.ok(v.attrs['Mountpoint'].endswith('/volumes/sdk-vol/_data'), 'Mountpoint under the data root', found=v.attrs['Mountpoint'])
    tap.eq(client.volumes.get('sdk-vol').id, 'sdk-vol', 'volumes.get')
    tap.eq([x.name for x in client.volumes.list(filters={'label': 'clients.test=sdk'})], ['sdk-vol'], 'volumes.list(filters=label)')
    client.containers.run(IMAGE, ['sh', '-c', 'echo kept > /data/f'], volumes={'sdk-vol': {'bind': '/data', 'mode': 'rw'}},
                          name='sdk-vol-writer')
    tap.eq(client.containers.run(IMAGE, ['cat', '/data/f'], volumes=['sdk-vol:/data:ro'], remove=True), b'kept\n',
           'a second container reads what the first wrote')
    e = tap.raises(docker.errors.APIError, v.remove, 'removing a volume in use fails')
    if e is not None:
        tap.eq(e.status_code, 409, 'in use: 409')
    client.containers.get('sdk-vol-writer').remove()
    v.remove()
    tap.raises(docker.errors.NotFound, lambda: client.volumes.get('sdk-vol'), 'removed volume: NotFound')
    anon = client.volumes.create()
    tap.eq(len(anon.name), 64, 'volumes.create() with no name: a 64-hex name')
    pruned = client.volumes.prune()
    tap.ok(anon.name in (pruned.get('VolumesDeleted') or []), 'volumes.prune removes the unused anonymous volume', found=pruned)


@section
def networks(client):
    n = client.networks.create('sdk-net', driver='bridge', labels={'clients.test': 'sdk'}, check_duplicate=True)
    tap.eq(n.name, 'sdk-net', 'networks.create returns the network')
    n.reload()
    tap.eq((n.attrs['Driver'], n.attrs['Scope'], n.attrs['Labels']), ('bridge', 'local', {'clients.test': 'sdk'}), 'inspect: driver, scope, labels')
    tap.ok(len(n.attrs['IPAM']['Config']) == 1 and 'Subnet' in n.attrs['IPAM']['Config'][0], 'a subnet was allocated', found=n.attrs['IPAM'])
    tap.eq(client.networks.get('sdk-net').id, n.id, 'networks.get by name')
    tap.eq([x.id for x in client.networks.list(names=['sdk-net'])], [n.id], 'networks.list(names=)')
    tap.ok({'bridge', 'host', 'none'} <= {x.name for x in client.networks.list()}, 'the predefined networks are listed')
    e = tap.raises(docker.errors.APIError, lambda: client.networks.create('sdk-net', check_duplicate=True), 'a duplicate name is refused')
    if e is not None:
        tap.eq(e.status_code, 409, 'duplicate: 409')
    c = client.containers.create(IMAGE, ['true'], name='sdk-net-member')
    n.connect(c, aliases=['member'])
    if NETWORK_PENDING:
        tap.skip('connect/disconnect as seen in container inspect', NETWORK_PENDING)
    else:
        c.reload()
        nets = c.attrs['NetworkSettings']['Networks']
        tap.ok('sdk-net' in nets, 'connect: the container lists the network', found=list(nets))
        tap.ok('member' in ((nets.get('sdk-net') or {}).get('Aliases') or []), 'connect: aliases kept', found=nets.get('sdk-net'))
        n.disconnect(c)
        c.reload()
        tap.ok('sdk-net' not in c.attrs['NetworkSettings']['Networks'], 'disconnect removes it')
    c.remove()
    n.remove()
    tap.raises(docker.errors.NotFound, lambda: client.networks.get('sdk-net'), 'removed network: NotFound')
    n2 = client.networks.create('sdk-net-unused')
    pruned = client.networks.prune()
    tap.ok('sdk-net-unused' in (pruned.get('NetworksDeleted') or []), 'networks.prune', found=pruned)
    tap.ok('bridge' not in (pruned.get('NetworksDeleted') or []), 'prune keeps the predefined networks')
    del n2


@section
def events(client):
    since = int(time.time()) - 1
    seen = []
    stream = client.events(decode=True, filters={'type': 'container', 'label': 'clients.test=events'})
    got_all = threading.Event()

    def reader():
        for ev in stream:
            seen.append(ev)
            if ev.get('Action') == 'destroy':
                got_all.set()
                return

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    client.containers.run(IMAGE, ['true'], name='sdk-events', labels={'clients.test': 'events'}, remove=True)
    got_all.wait(30)
    stream.close()
    actions = [e['Action'] for e in seen]
    tap.ok(set(['create', 'start', 'die', 'destroy']) <= set(actions), 'events(decode=True) streams create, start, die, destroy', found=actions)
    first = seen[0] if seen else {}
    tap.eq((first.get('Type'), first.get('Actor', {}).get('Attributes', {}).get('name')), ('container', 'sdk-events'),
           'an event is a decoded dict with Type and Actor attributes')
    tap.ok(isinstance(first.get('timeNano'), int) and isinstance(first.get('time'), int), 'time and timeNano are numbers')
    die = next((e for e in seen if e['Action'] == 'die'), {})
    tap.eq(die.get('Actor', {}).get('Attributes', {}).get('exitCode'), '0', 'die carries exitCode')
    until_ = int(time.time()) + 1
    past = list(client.events(since=since, until=until_, decode=True, filters={'container': 'sdk-events'}))
    tap.eq([e['Action'] for e in past if e['Action'] in ('create', 'start', 'die', 'destroy')], ['create', 'start', 'die', 'destroy'],
           'events(since, until) replays the past and ends')


@section
def df(client):
    client.volumes.create('sdk-df-vol')
    d = client.df()
    for key in ('LayersSize', 'Images', 'Containers', 'Volumes', 'BuildCache'):
        tap.ok(key in d, 'df() has %s' % key)
    img = client.images.get(IMAGE)
    entry = next((i for i in d['Images'] if i['Id'] == img.id), None)
    tap.ok(entry is not None and entry['Size'] > 0, 'df(): the test image with its size', found=entry)
    tap.ok(any(v['Name'] == 'sdk-df-vol' and v['UsageData']['RefCount'] == 0 for v in d['Volumes']), 'df(): the volume and its usage')
    client.volumes.get('sdk-df-vol').remove()


def main():
    if not os.path.dirname(docker.__file__).startswith(DEBIAN_SITE):
        print('Bail out! docker SDK from %s, not Debian\'s %s' % (docker.__file__, DEBIAN_SITE))
        return 1
    client = docker.from_env(version=API_VERSION, timeout=120)
    failed = run_sections(client, set(sys.argv[1:]))
    client.close()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
