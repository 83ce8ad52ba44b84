import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exponentialBackoff } from '../src/retry-policy.js';

test('exponential backoff doubles per retry up to the maximum (Celery formula)', () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((r) => exponentialBackoff(1, r, 600, false)), [1, 2, 4, 8, 600]);
  assert.deepEqual([0, 1, 2].map((r) => exponentialBackoff(3, r, 10, false)), [3, 6, 10]);
});

test('full jitter draws a whole number of seconds in [0, delay]', () => {
  assert.equal(exponentialBackoff(1, 3, 600, true, () => 0), 0);
  assert.equal(exponentialBackoff(1, 3, 600, true, () => 0.999999), 8);
  assert.equal(exponentialBackoff(1, 3, 600, true, () => 0.5), 4);
});
