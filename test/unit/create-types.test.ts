// Container create refuses a field of the wrong JSON type as dockerd's decoder does (400,
// naming the field and its Go type), before anything reads it (hostile bodies once made 500s).
import t from 'tap';
import { checkCreateTypes } from '../../daemon/backend/containers/config';
import { InvalidParameter } from '../../daemon/errors';

t.test('wrong types are a 400 naming the field; Docker\'s accepted shapes pass', async (t) => {
  const bad: Array<[object, string]> = [
    [{ Image: 9007199254740992 }, 'json: cannot unmarshal number into Go struct field CreateRequest.Image of type string'],
    [{ Image: 'busybox', Entrypoint: -1 }, 'json: cannot unmarshal number into Go struct field CreateRequest.Entrypoint of type strslice.StrSlice'],
    [{ Image: 'busybox', Env: { A: 1 } }, 'json: cannot unmarshal object into Go struct field CreateRequest.Env of type []string'],
    [{ Image: 'busybox', Tty: 'yes' }, 'json: cannot unmarshal string into Go struct field CreateRequest.Tty of type bool'],
    [{ Image: 'busybox', HostConfig: [] }, 'json: cannot unmarshal array into Go struct field CreateRequest.HostConfig of type map[string]...'],
    [{ Image: 'busybox', HostConfig: { Memory: 'lots' } }, 'json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.Memory of type int64'],
    [{ Image: 'busybox', HostConfig: { CpuShares: 1.5 } }, 'json: cannot unmarshal number 1.5 into Go struct field CreateRequest.HostConfig.CpuShares of type int64'],
    [{ Image: 'busybox', HostConfig: { Privileged: 'yes' } }, 'json: cannot unmarshal string into Go struct field CreateRequest.HostConfig.Privileged of type bool'],
    [{ Image: 'busybox', HostConfig: { Mounts: ['/a:/b'] } }, 'json: cannot unmarshal array into Go struct field CreateRequest.HostConfig.Mounts of type []...'],
  ];
  for (const [body, message] of bad) t.throws(() => checkCreateTypes(body), { constructor: InvalidParameter, message }, JSON.stringify(body));
  for (const ok of [
    { Image: 'busybox', Cmd: 'true', Entrypoint: null, Env: ['A=1'], Labels: { a: 'b' }, StopTimeout: 3 },
    { Image: 'busybox', Cmd: ['sh', '-c', 'true'], HostConfig: { Memory: 0, PidsLimit: null, Binds: null, CapAdd: 'NET_ADMIN', Mounts: [{ Type: 'tmpfs', Target: '/t' }] } },
    { Image: 'busybox', HostConfig: null },
  ]) t.doesNotThrow(() => checkCreateTypes(ok), JSON.stringify(ok));
});
