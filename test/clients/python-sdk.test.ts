// The Docker SDK for Python (Debian's python3-docker, API 1.41) against a berthd of the test's
// own: test/clients/python_sdk.py checks containers, images, volumes, networks, events, df and
// the system calls and writes TAP, which tap reads as this test's subtests.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { e2eSkipReason, repoRoot, startDaemon } from '../helpers/daemon';
import { importTestImage } from '../helpers/test-image';

/** Debian's interpreter: its sys.path holds /usr/lib/python3/dist-packages, not a pip copy. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(repoRoot, 'test', 'clients', 'python_sdk.py');

function sdkSkipReason(): string | false {
  const r = spawnSync(PYTHON, ['-s', '-c', 'import sys; sys.path.insert(0, "/usr/lib/python3/dist-packages"); import docker; print(docker.__version__, docker.__file__)'], { encoding: 'utf8' });
  if (r.status !== 0) return `Debian's python3-docker is not importable by ${PYTHON} (scripts/install-deps.sh installs it): ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
  if (!r.stdout.includes('/usr/lib/python3/dist-packages/docker/')) return `${PYTHON} imports the docker SDK from elsewhere: ${r.stdout.trim()}`;
  t.comment(`docker SDK for Python ${r.stdout.trim()}`);
  return false;
}

const skip = e2eSkipReason() || sdkSkipReason();
t.setTimeout(600_000); // two runs of the script, each bounded below
if (skip) t.comment(`skipped: ${skip}`);

// 1.41 is the SDK's default; "auto" is what docker.from_env() asks for when given no version
for (const version of ['1.41', 'auto']) {
  t.test(`the Docker SDK for Python, API version ${version}`, { skip }, async (t) => {
    const d = await startDaemon(t);
    await importTestImage(d, 'busybox:latest');
    // -s: no user site-packages; the script puts Debian's dist-packages first and checks it got them
    const env = { ...d.env, PYTHONPATH: '', PYTHONNOUSERSITE: '1', SDK_API_VERSION: version };
    // a bound of its own, so that a client stuck on a stream fails here and the daemon's teardown runs
    await t.spawn(PYTHON, ['-s', SCRIPT], { env, cwd: d.dir, timeout: 240_000 }, 'python_sdk.py');
  });
}
