// HostConfig → the monitor's security keys, without a kernel: moby's capability arithmetic,
// --security-opt, Docker's seccomp profile format turned into the monitor's line format,
// ulimits and sysctls.
import t from 'tap';
import {
  capabilitySet, DEFAULT_CAPS, DEFAULT_SECCOMP_PROFILE, parseSecurityOpts, seccompLines, sysctlsOf, ulimitsOf, validateSecurity,
} from '../../daemon/backend/containers/security';

t.test('capabilities as moby\'s TweakCapabilities', async (t) => {
  t.same(capabilitySet({}), DEFAULT_CAPS);
  t.ok(capabilitySet({ CapAdd: ['net_admin'] }).includes('CAP_NET_ADMIN'));
  t.notOk(capabilitySet({ CapDrop: ['CAP_CHOWN'] }).includes('CAP_CHOWN'));
  t.same(capabilitySet({ CapDrop: ['ALL'], CapAdd: ['kill'] }), ['CAP_KILL']);
  const all = capabilitySet({ CapAdd: ['ALL'], CapDrop: ['SYS_ADMIN'] });
  t.ok(all.includes('CAP_SYS_MODULE'));
  t.notOk(all.includes('CAP_SYS_ADMIN'));
  t.throws(() => capabilitySet({ CapAdd: ['nope'] }), { message: 'unknown capability: "CAP_NOPE"' });
});

t.test('--security-opt', async (t) => {
  t.same(parseSecurityOpts(['no-new-privileges']), { noNewPrivs: true });
  t.same(parseSecurityOpts(['no-new-privileges:true', 'seccomp=unconfined', 'apparmor=x']), { noNewPrivs: true, seccomp: 'unconfined' });
  t.throws(() => parseSecurityOpts(['nope']), { message: 'invalid --security-opt 1: "nope"' });
  t.throws(() => parseSecurityOpts(['foo=bar']), { message: 'invalid --security-opt 2: "foo=bar"' });
});

t.test('seccomp: Docker\'s format to lines, filtered by caps, arch and kernel', async (t) => {
  const lines = seccompLines({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    archMap: [{ architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86', 'SCMP_ARCH_X32'] }],
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '4.8' } },
      { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }], excludes: { caps: ['CAP_SYS_ADMIN'] } },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }, { index: 0, value: 8, op: 'SCMP_CMP_EQ' }] },
      { names: ['kill'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      { names: ['iopl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['s390x'] } },
    ],
  }, { caps: ['CAP_CHOWN'], kernel: '6.18.0-1', arch: 'x64' });
  t.equal(lines, [
    'default errno:1', 'arch x86_64', 'arch x86', 'arch x32',
    'rule read allow', 'rule write allow', 'rule ptrace allow', 'rule clone allow 0 masked_eq 2114060288 0',
    'rule personality allow 0 eq 0 0', 'rule personality allow 0 eq 8 0', '',
  ].join('\n'));
  t.match(seccompLines({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } }] }, { caps: ['CAP_SYS_ADMIN'] }), 'rule mount errno:1');
  t.throws(() => seccompLines({ defaultAction: 'SCMP_ACT_NOTIFY' }, { caps: [] }), { message: /unsupported action/ });
  const dflt = seccompLines(DEFAULT_SECCOMP_PROFILE, { caps: DEFAULT_CAPS });
  t.match(dflt, /^default allow\n/);
  for (const s of ['keyctl', 'add_key', 'kexec_load', 'init_module', 'unshare', 'mount', 'reboot', 'swapon', 'bpf', 'userfaultfd']) t.match(dflt, new RegExp(`^rule ${s} errno:1$`, 'm'), s);
  t.match(dflt, /^rule clone errno:1 0 masked_eq 268435456 268435456$/m, 'clone(CLONE_NEWUSER)');
  t.match(dflt, /^rule clone3 errno:38$/m);
  t.notMatch(dflt, /^rule chroot /m, 'chroot: CAP_SYS_CHROOT is a default capability');
  const admin = seccompLines(DEFAULT_SECCOMP_PROFILE, { caps: [...DEFAULT_CAPS, 'CAP_SYS_ADMIN'] });
  t.notMatch(admin, /^rule (mount|unshare|clone) /m, 'CAP_SYS_ADMIN lets mount, unshare and clone through');
});

t.test('ulimits, sysctls and create-time validation', async (t) => {
  t.same(ulimitsOf({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 20 }] }, { nofile: { Name: 'nofile', Soft: 1, Hard: 2 }, nproc: { Name: 'nproc', Soft: 5, Hard: 5 } }),
    [{ Name: 'nofile', Soft: 10, Hard: 20 }, { Name: 'nproc', Soft: 5, Hard: 5 }]);
  t.throws(() => ulimitsOf({ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] }), { message: 'invalid ulimit type: bogus' });
  t.throws(() => ulimitsOf({ Ulimits: [{ Name: 'nofile', Soft: 3, Hard: 2 }] }), { message: /soft limit must be less than or equal to hard limit/ });
  t.same(sysctlsOf({ Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1000', 'fs.mqueue.msg_max': '5' } }), ['net.ipv4.ip_forward=1', 'kernel.shmmax=1000', 'fs.mqueue.msg_max=5']);
  t.throws(() => sysctlsOf({ Sysctls: { 'kernel.hostname': 'x' } }), { message: 'sysctl "kernel.hostname" is not in a separate kernel namespace' });
  t.throws(() => sysctlsOf({ Sysctls: { 'net.ipv4.ip_forward': '1' }, NetworkMode: 'host' }), { message: /not allowed in host network namespace/ });
  t.throws(() => validateSecurity({ SecurityOpt: ['seccomp={bad json'] }), { message: /^Decoding seccomp profile failed/ });
  t.throws(() => validateSecurity({ DeviceCgroupRules: ['x 1:2 rwm'] }), { message: "invalid device cgroup rule format: 'x 1:2 rwm'" });
  validateSecurity({ Privileged: true, SecurityOpt: ['seccomp=unconfined'] });
});
