// Docker-style query input: booleans, integers and filters, parsed as moby's form/filters do.
import t from 'tap';
import { bool, filters, int, Filters } from '../../daemon/server/query';

t.test('booleans: 1/true/True/yes are true; absent, empty, 0, no, false, none are false', async (t) => {
  for (const v of ['1', 'true', 'True', 'TRUE', 'yes']) t.equal(bool({ x: v }, 'x'), true, v);
  for (const v of ['', '0', 'no', 'false', 'False', 'none']) t.equal(bool({ x: v }, 'x'), false, JSON.stringify(v));
  t.equal(bool({}, 'x'), false);
  t.equal(bool({}, 'x', true), true, 'absent takes the default');
  t.equal(bool({ x: ['0', '1'] }, 'x'), true, 'the last of a repeated parameter wins');
});

t.test('integers: absent or empty give the default, garbage is a 400', async (t) => {
  t.equal(int({ t: '5' }, 't', 10), 5);
  t.equal(int({ t: '-1' }, 't', 10), -1);
  t.equal(int({}, 't', 10), 10);
  t.equal(int({ t: '' }, 't', 10), 10);
  t.equal(int({}, 't'), undefined);
  t.throws(() => int({ t: 'abc' }, 't', 0), { message: 'invalid value for t: "abc"' });
});

t.test('filters: both JSON shapes, labels, unknown keys, bad JSON', async (t) => {
  const a = filters({ filters: '{"label":["a=1","b"],"status":["exited"]}' });
  const b = filters({ filters: '{"label":{"a=1":true,"b":true},"status":{"exited":true}}' });
  for (const f of [a, b]) {
    t.same(f.get('status'), ['exited']);
    t.equal(f.matchLabels({ a: '1', b: 'x' }), true);
    t.equal(f.matchLabels({ a: '2', b: 'x' }), false);
    t.equal(f.matchLabels({ a: '1' }), false);
    t.equal(f.any('status', (v) => v === 'exited'), true);
    t.equal(f.any('name', () => false), true, 'an absent filter matches everything');
  }
  t.same(filters({}).keys(), []);
  t.same(filters({ filters: '' }).keys(), []);
  t.same(Filters.parse('null').keys(), []);
  t.throws(() => filters({ filters: '{bad' }), { message: /^invalid filter: / });
  t.throws(() => filters({ filters: '{"x":["1"]}' }).allowOnly('label'), { message: "invalid filter 'x'" });
  t.throws(() => filters({ filters: '["x"]' }), { message: 'invalid filter: filters must be a JSON object' });
});
