/** `sqlite://` URL parsing and option validation. */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '@celeriac/core';
import { createBackend, createBroker, parseSqliteUrl, resolveSqliteOptions, SqliteBroker } from '@celeriac/sqlite';

describe('parseSqliteUrl', () => {
  it('sqlite:// alone is celeriac.db in the working directory', () => {
    assert.deepEqual(parseSqliteUrl('sqlite://'), { path: 'celeriac.db' });
    assert.deepEqual(parseSqliteUrl('sqlite:///'), { path: 'celeriac.db' });
    assert.equal(resolveSqliteOptions(parseSqliteUrl('sqlite://')).path, resolve('celeriac.db'));
  });

  it('three slashes: a path relative to the working directory', () => {
    assert.deepEqual(parseSqliteUrl('sqlite:///data/queue.db'), { path: 'data/queue.db' });
    assert.equal(resolveSqliteOptions(parseSqliteUrl('sqlite:///data/queue.db')).path, resolve('data/queue.db'));
  });

  it('four slashes: an absolute path', () => {
    assert.deepEqual(parseSqliteUrl('sqlite:////var/lib/celeriac/q.db'), { path: '/var/lib/celeriac/q.db' });
    assert.equal(resolveSqliteOptions(parseSqliteUrl('sqlite:////var/lib/celeriac/q.db')).path, '/var/lib/celeriac/q.db');
  });

  it('decodes percent-escapes and ignores a fragment; the scheme is case-insensitive', () => {
    assert.deepEqual(parseSqliteUrl('SQLite:////tmp/my%20queue.db#x'), { path: '/tmp/my queue.db' });
  });

  it('reads query options', () => {
    assert.deepEqual(parseSqliteUrl('sqlite:///q.db?visibility_timeout=1.5&poll_interval=20&busy_timeout=100'), {
      path: 'q.db',
      visibilityTimeout: 1.5,
      pollInterval: 20,
      busyTimeout: 100,
    });
    const resolved = resolveSqliteOptions(parseSqliteUrl('sqlite:///q.db?visibility_timeout=1.5'));
    assert.equal(resolved.visibilityTimeoutMs, 1500);
    assert.equal(resolved.pollIntervalMs, 50);
    assert.equal(resolved.busyTimeoutMs, 5000);
  });

  it('defaults: 60 s visibility timeout, 50 ms poll interval, 5 s busy timeout', () => {
    assert.deepEqual(resolveSqliteOptions({ path: '/x.db' }), { path: '/x.db', visibilityTimeoutMs: 60_000, pollIntervalMs: 50, busyTimeoutMs: 5000 });
  });

  it('rejects what it cannot use, naming the problem', () => {
    const rejects = (url: string, pattern: RegExp) => assert.throws(() => parseSqliteUrl(url), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
    rejects('redis://localhost', /sqlite:\/\/\/celeriac\.db/);
    rejects('sqlite://host/q.db', /no host/);
    rejects('sqlite:///q.db?visibility=3', /unknown sqlite:\/\/ URL option "visibility"/);
    rejects('sqlite:///q.db?visibility_timeout=0', /positive number/);
    rejects('sqlite:///q.db?poll_interval=abc', /positive number/);
    rejects('sqlite:///q.db?poll_interval=', /positive number/);
    rejects('sqlite:///bad%zz.db', /percent-escape/);
  });

  it('validates options given in code', () => {
    assert.throws(() => new SqliteBroker({ path: '' }), ConfigError);
    assert.throws(() => new SqliteBroker({ path: ':memory:' }), /memory:\/\//);
    assert.throws(() => new SqliteBroker({ path: 'x.db', visibilityTimeout: -1 }), /"visibilityTimeout" must be a positive number of seconds, got -1/);
    assert.throws(() => new SqliteBroker({ path: 'x.db', pollInterval: Number.NaN }), /"pollInterval"/);
  });

  it('createBroker and createBackend take a URL and open nothing until connect()', async () => {
    const broker = createBroker('sqlite:////nonexistent-dir-celeriac/never-opened.db?poll_interval=10');
    const backend = createBackend('sqlite:////nonexistent-dir-celeriac/never-opened.db');
    assert.equal(broker.options.pollIntervalMs, 10);
    assert.equal(backend.options.path, '/nonexistent-dir-celeriac/never-opened.db');
    await broker.close();
    await backend.close();
  });
});
