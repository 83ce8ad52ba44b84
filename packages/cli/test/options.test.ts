/** The pure pieces, in-process: option value parsers, node-name expansion, progress lines, error lines. */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { ConfigError, RemoteTaskError } from '@celeriac/core';
import { expandHostname } from '../src/commands/worker-command.js';
import { jsonArray, jsonObject, logLevel, positiveInt, queueList, seconds } from '../src/options.js';
import { describe as describeError } from '../src/report-error.js';
import { formatProgress } from '../src/worker-progress.js';

describe('option parsers', () => {
  it('positive integers', () => {
    assert.equal(positiveInt('-c')('12'), 12);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3']) {
      assert.throws(() => positiveInt('-c')(bad), (e: unknown) => e instanceof ConfigError && e.message === `option -c must be a positive integer, got ${JSON.stringify(bad)}`);
    }
  });

  it('seconds', () => {
    assert.equal(seconds('--countdown')('0'), 0);
    assert.equal(seconds('--countdown')('1.5'), 1.5);
    for (const bad of ['-1', 'soon', ' ', 'Infinity']) assert.throws(() => seconds('--countdown')(bad), ConfigError);
  });

  it('queue lists', () => {
    assert.deepEqual(queueList('-Q')('a, b,c'), ['a', 'b', 'c']);
    assert.throws(() => queueList('-Q')('a,,b'), /option -Q must be comma-separated queue names, got "a,,b"/);
  });

  it('log levels, with Celery\'s "warning" accepted', () => {
    assert.equal(logLevel('-l')('INFO'), 'info');
    assert.equal(logLevel('-l')('warning'), 'warn');
    assert.throws(() => logLevel('-l')('verbose'), ConfigError);
  });

  it('JSON arguments', () => {
    assert.deepEqual(jsonArray('--args')('[1, "a"]'), [1, 'a']);
    assert.deepEqual(jsonObject('--kwargs')('{"x": 1}'), { x: 1 });
    assert.throws(() => jsonArray('--args')('{"x": 1}'), /option --args must be a JSON array/);
    assert.throws(() => jsonObject('--kwargs')('null'), /option --kwargs must be a JSON object/);
    assert.throws(() => jsonObject('--kwargs')('{x: 1}'), /option --kwargs must be valid JSON/);
  });
});

it('node names expand %h, %n and %d', () => {
  const host = hostname();
  assert.equal(expandHostname('w1@%h'), `w1@${host}`);
  assert.equal(expandHostname('%n'), host.split('.')[0]);
  assert.equal(expandHostname('plain'), 'plain');
});

it('a progress line names every counter that moved', () => {
  const stats = { received: 9, succeeded: 5, failed: 1, retried: 2, revoked: 0, deadLettered: 1 };
  assert.equal(formatProgress(stats, 2.5), '9 processed (5 succeeded, 1 failed, 2 retried, 1 dead-lettered), 2.5 tasks/s');
});

it('error lines: code, then the remote type when it differs from the class', () => {
  assert.equal(describeError(new ConfigError('bad')), 'CELERIAC_E_CONFIG bad');
  const remote = new RemoteTaskError('id', { excType: 'ValueError', excModule: 'builtins', excArgs: ['boom'] }, null);
  assert.equal(describeError(remote), 'CELERIAC_E_TASK_FAILED ValueError: boom');
  assert.equal(describeError(new TypeError('x is undefined')), 'TypeError: x is undefined');
});
