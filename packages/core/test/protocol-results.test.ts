/**
 * Result metadata, exceptions and timestamps against golden fixtures captured from real Celery 5.2.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NotRegistered, RemoteTaskError, TaskRevokedError } from '../src/errors.js';
import { excArgsFromMeta, isSerializedException, serializeException } from '../src/protocol/exception-codec.js';
import { formatIsoNaiveUtc, formatIsoUtc, parseIso } from '../src/protocol/iso-time.js';
import { buildResultMeta, decodeResultMeta, type ResultExtended } from '../src/protocol/result-meta.js';
import { load, result, results, type IsoTimes, type Parsed } from './protocol-fixtures.js';

describe('result metadata', () => {
  for (const r of results.values()) {
    test(r.case, () => {
      const meta = r.meta;
      const dateDone = meta['date_done'];
      const extended: ResultExtended = {
        name: meta['name'] as string | null,
        args: meta['args'] as unknown[] | null,
        kwargs: meta['kwargs'] as Record<string, unknown> | null,
        worker: meta['worker'] as string | null,
        retries: meta['retries'] as number | null,
        queue: meta['queue'] as string | null,
      };
      const built = buildResultMeta({
        taskId: meta['task_id'] as string,
        status: meta['status'] as string,
        result: meta['result'],
        traceback: meta['traceback'] as string | null,
        children: meta['children'] as unknown[],
        groupId: (meta['group_id'] as string | undefined) ?? null,
        parentId: (meta['parent_id'] as string | undefined) ?? null,
        extended,
        now: typeof dateDone === 'string' ? new Date(`${dateDone.slice(0, 23)}Z`) : new Date(),
      });
      assert.deepEqual(Object.keys(built), Object.keys(meta), 'key order');
      const { date_done: ours, ...rest } = built;
      const { date_done: theirs, ...restTheirs } = meta;
      assert.deepEqual(rest, restTheirs);
      if (theirs === null) {
        assert.equal(ours, null);
      } else {
        // Celery 5.2: naive UTC isoformat(), six fraction digits.
        assert.match(theirs as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
        assert.match(ours!, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
        assert.equal(ours, `${(theirs as string).slice(0, 23)}000`);
      }
      // As the backends call it: on a fresh parse of the stored text (it may return that object).
      const decoded = decodeResultMeta(meta['task_id'] as string, JSON.parse(JSON.stringify(meta)));
      assert.ok(decoded);
      assert.deepEqual(decoded, meta);
      assert.deepEqual(Object.keys(decoded), Object.keys(meta));
      // A meta with a field of the wrong type or missing goes through the checked copy: the
      // same Celery fields, defaults where they were missing or wrong.
      const odd = JSON.parse(JSON.stringify(meta)) as Record<string, unknown>;
      delete odd['children'];
      odd['traceback'] = 42;
      const copied = decodeResultMeta(meta['task_id'] as string, odd);
      assert.ok(copied);
      assert.deepEqual(copied.children, []);
      assert.equal(copied.traceback, null);
      assert.equal(copied.status, meta['status']);
      assert.deepEqual(copied.result, meta['result']);
    });
  }

  test('states and shapes Celery wrote', () => {
    assert.deepEqual(result('success').meta['result'], 5);
    const started = result('started').meta;
    assert.deepEqual(Object.keys(started['result'] as object), ['pid', 'hostname']);
    assert.equal((started['result'] as { hostname: unknown }).hostname, started['worker']);
    assert.deepEqual(result('progress').meta['result'], { current: 3, total: 10 });
    assert.equal(result('progress').meta['date_done'], null);
    assert.equal(result('retry').meta['result'], null); // self.retry() without exc stores no exception
    // A retry lists the re-published message as a child of the attempt.
    const id = result('retry').meta['task_id'];
    assert.deepEqual(result('retry').meta['children'], [[[id, null], null]]);
    const nr = result('not-registered').meta;
    for (const key of ['name', 'args', 'kwargs', 'worker', 'retries', 'queue', 'traceback']) {
      assert.equal(nr[key], null, key);
    }
  });

  test('date_done only for ready states', () => {
    const now = new Date('2026-11-21T13:27:02.355Z');
    const cases = [
      ['SUCCESS', true], ['FAILURE', true], ['REVOKED', true], ['STARTED', false], ['RETRY', false], ['PROGRESS', false],
    ] as const;
    for (const [status, ready] of cases) {
      const m = buildResultMeta({ taskId: 't', status, result: null, now });
      assert.equal(m.date_done, ready ? '2026-11-21T13:27:02.355000' : null, status);
    }
  });
});

describe('exception serialization', () => {
  test('the shapes Celery stores', () => {
    for (const name of ['failure', 'custom-exception', 'not-registered', 'revoked-expired', 'retry-exc']) {
      const value = result(name).meta['result'];
      assert.ok(isSerializedException(value), name);
      assert.deepEqual(Object.keys(value), ['exc_type', 'exc_message', 'exc_module'], name);
      assert.ok(Array.isArray(value.exc_message), name);
    }
    assert.equal(isSerializedException(result('success').meta['result']), false);
  });

  test('JavaScript errors serialize to the same shapes', () => {
    assert.deepEqual(serializeException(new RangeError('boom')), result('failure').meta['result']);
    class ServiceError extends Error {
      static excModule = 'capture';
      readonly excArgs: unknown[];
      constructor(service: string, code: number) {
        super(`${service} ${code}`);
        this.excArgs = [service, code];
      }
    }
    assert.deepEqual(serializeException(new ServiceError('billing', 503)), result('custom-exception').meta['result']);
    assert.deepEqual(serializeException(new NotRegistered('fixture.nope')), result('not-registered').meta['result']);
    assert.deepEqual(serializeException(new TaskRevokedError('expired')), result('revoked-expired').meta['result']);
    assert.deepEqual(serializeException(new Error('x')), { exc_type: 'Exception', exc_message: ['x'], exc_module: 'builtins' });
    assert.deepEqual(serializeException(new Error('')).exc_message, []);
    // A class without `name` of its own is still stored under its class name, as Python does.
    class Plain extends Error {}
    assert.deepEqual(serializeException(new Plain('p')), { exc_type: 'Plain', exc_message: ['p'], exc_module: 'celeriac' });
    // A remote error keeps the module it came from.
    const remote = new RemoteTaskError(
      't', { excType: 'ServiceError', excModule: 'capture', excArgs: ['billing', 503] }, null,
    );
    assert.deepEqual(serializeException(remote), result('custom-exception').meta['result']);
  });

  test('exc_message read back as a list', () => {
    const v = result('custom-exception').meta['result'];
    assert.ok(isSerializedException(v));
    assert.deepEqual(excArgsFromMeta(v), ['billing', 503]);
    const bare = { exc_type: 'E', exc_message: 'bare' as unknown as unknown[], exc_module: 'm' };
    assert.deepEqual(excArgsFromMeta(bare), ['bare']); // older senders store a bare string
  });
});

describe('ISO-8601 times', () => {
  const iso = load<IsoTimes>('iso-times.json');

  test('formatting matches isoformat()', () => {
    let compared = 0;
    for (const f of iso.format) {
      if (f.epoch_us % 1000 !== 0) continue; // a Date holds milliseconds only
      const date = new Date(f.epoch_us / 1000);
      assert.equal(f.pytz_utc_isoformat, f.aware_utc_isoformat);
      if (f.epoch_us % 1_000_000 !== 0) {
        assert.equal(formatIsoUtc(date), f.aware_utc_isoformat);
        assert.equal(formatIsoNaiveUtc(date), f.naive_utc_isoformat);
        compared++;
      } else {
        // isoformat() drops a zero fraction; we keep six digits, which every Celery parser reads.
        assert.equal(formatIsoUtc(date), f.aware_utc_isoformat.replace('+00:00', '.000000+00:00'));
        assert.equal(formatIsoNaiveUtc(date), `${f.naive_utc_isoformat}.000000`);
      }
      assert.equal(parseIso(f.aware_utc_isoformat)?.getTime(), date.getTime());
      assert.equal(parseIso(f.naive_utc_isoformat)?.getTime(), date.getTime());
      assert.equal(parseIso(formatIsoUtc(date))?.getTime(), date.getTime());
    }
    assert.ok(compared >= 3);
  });

  test('parsing agrees with Python', () => {
    const ms = (p: Parsed) => ('error' in p ? null : Math.ceil(p.epoch_us / 1000)); // parseIso rounds sub-ms digits up
    const disagreements: string[] = [];
    for (const c of iso.parse) {
      const ours = parseIso(c.input)?.getTime() ?? null;
      const celery52 = ms(c.parse_iso8601);
      const fromIso = ms(c.fromisoformat);
      if (celery52 === fromIso) {
        assert.equal(ours, celery52, c.input);
      } else {
        // Where Python's parsers disagree we follow datetime.fromisoformat.
        assert.equal(ours, fromIso, c.input);
        disagreements.push(c.input);
      }
    }
    // Celery 5.2 reads `.918` as 918 µs, ignores a `-0800` offset, rejects 7 fraction digits.
    assert.deepEqual(disagreements, [
      '2026-11-21T13:29:28.918+00:00',
      '2026-11-21T13:29:28.123Z',
      '2026-11-21T13:29:28.918253-0800',
      '2026-11-21T13:29:28.9182531+00:00',
    ]);
  });
});
