import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindArguments, parseParams } from '../src/params.js';
import { BadArgumentsError, ConfigError } from '../src/errors.js';

const specs = parseParams('t', ['x', 'y', 'z?']);

test('positional arguments pass through', () => {
  assert.deepEqual(bindArguments('t', specs, [1, 2], {}), [1, 2]);
  assert.deepEqual(bindArguments('t', specs, [1, 2, 3], {}), [1, 2, 3]);
});

test('keyword arguments map onto declared names, as Python binds them', () => {
  assert.deepEqual(bindArguments('t', specs, [], { y: 2, x: 1 }), [1, 2]);
  assert.deepEqual(bindArguments('t', specs, [1], { z: 3, y: 2 }), [1, 2, 3]);
});

test('mistakes fail with a TypeError worded like Python', () => {
  const cases: Array<[unknown[], Record<string, unknown>, RegExp]> = [
    [[1, 2, 3, 4], {}, /takes 3 positional arguments but 4 were given/],
    [[1], {}, /missing 1 required argument: 'y'/],
    [[], {}, /missing 2 required arguments: 'x' and 'y'/],
    [[1, 2], { w: 1 }, /unexpected keyword argument 'w'/],
    [[1, 2], { x: 5 }, /multiple values for argument 'x'/],
  ];
  for (const [args, kwargs, re] of cases) {
    assert.throws(() => bindArguments('t', specs, args, kwargs), (err: unknown) => {
      assert.ok(err instanceof BadArgumentsError);
      assert.equal(err.name, 'TypeError');
      assert.match(err.message, re);
      return true;
    });
  }
});

test('without params, kwargs are refused and args pass as they are', () => {
  assert.deepEqual(bindArguments('t', undefined, [1, 'a'], {}), [1, 'a']);
  assert.throws(() => bindArguments('t', undefined, [], { a: 1 }), /declares no "params"/);
});

test('params are validated when the task is defined', () => {
  assert.throws(() => parseParams('t', ['x', 'x']), ConfigError);
  assert.throws(() => parseParams('t', ['x?', 'y']), /follows an optional one/);
  assert.throws(() => parseParams('t', ['1x']), /identifiers/);
});
