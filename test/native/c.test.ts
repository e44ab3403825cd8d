// The C unit tests (native/test/*.c), each a TAP producer: their counts fold into this run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { nativeDir } from '../../daemon/native/binding';

const tests: Array<[string, string]> = [
  ['test-cgroup', 'cgroup mode detection from fixtures; v1 and v2 writers against a temporary directory'],
  ['test-devices', 'device rules: parsing, rule list -> eBPF program checked by an interpreter, and the program attached to a real cgroup2 directory (skips without root or cgroup2)'],
  ['test-oom', 'a real OOM kill in a v1 memory cgroup (skips itself without root or v1 memory)'],
];

for (const [name, what] of tests) {
  const bin = join(nativeDir(), 'build', 'Release', name);
  if (!existsSync(bin)) {
    t.test(`${name}: ${what}`, { skip: `${bin} is not built (npm run build:native)` }, () => {});
    continue;
  }
  t.spawn(bin, [], {}, `${name}: ${what}`);
}
