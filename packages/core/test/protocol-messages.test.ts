/**
 * Task messages against golden fixtures captured from real Celery 5.2: decoding, building the same
 * headers, argsrepr/kwargsrepr, and malformed input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseKombuJson } from '../src/protocol/kombu-json.js';
import { argsRepr, kwargsRepr } from '../src/protocol/python-repr.js';
import { buildTaskMessage, decodeTaskMessage, encodeTaskMessage, type RawMessage } from '../src/protocol/task-message.js';
import { HEADER_ORDER, headerMs, load, reasonIs, results, task, tasks, toRaw, type ReprCases } from './protocol-fixtures.js';

test('the fixture set is complete', () => {
  const want = [
    'plain', 'kwargs', 'options', 'headers', 'unicode', 'repr-edge', 'repr-long-string', 'repr-long-list',
    'retry', 'retry-exc',
  ];
  assert.deepEqual(tasks.map((t) => t.case).sort(), [...want].sort());
  const wantResults = [
    'success', 'failure', 'custom-exception', 'not-registered', 'revoked-expired', 'started', 'progress',
    'retry', 'retry-exc',
  ];
  assert.deepEqual([...results.keys()].sort(), [...wantResults].sort());
  for (const t of tasks) {
    // Celery 5.2 emits the 16 headers in this order, user headers after them.
    assert.deepEqual(Object.keys(t.envelope.headers).slice(0, 16), HEADER_ORDER, t.case);
  }
});

describe('decoding captured task messages', () => {
  for (const t of tasks) {
    test(t.case, () => {
      const h = t.envelope.headers;
      const m = decodeTaskMessage(toRaw(t.envelope));
      assert.equal(m.headers.task, h['task']);
      assert.equal(m.headers.id, h['id']);
      assert.equal(m.headers.root_id, h['root_id']);
      assert.equal(m.headers.parent_id, h['parent_id']);
      assert.equal(m.headers.argsrepr, h['argsrepr']);
      assert.equal(m.headers.kwargsrepr, h['kwargsrepr']);
      assert.equal(m.headers.lang, 'py');
      assert.deepEqual(m.args, t.body[0]);
      assert.deepEqual(m.kwargs, t.body[1]);
      assert.deepEqual(m.embed, { callbacks: null, errbacks: null, chain: null, chord: null });
      assert.deepEqual(m.headers.timelimit, h['timelimit']);
      assert.equal(m.headers.retries, h['retries']);
      assert.equal(m.eta === null ? null : m.eta.getTime(), h['eta'] === null ? null : headerMs(h['eta']));
      const expiresMs = h['expires'] === null ? null : headerMs(h['expires']);
      assert.equal(m.expires === null ? null : m.expires.getTime(), expiresMs);
      assert.equal(m.headers.eta, h['eta']);
      assert.equal(m.properties.correlation_id, h['id']);
      assert.equal(m.properties.reply_to, t.envelope.properties['reply_to']);
      assert.equal(m.properties.delivery_mode, 2);
    });
  }

  test('specific values', () => {
    const opts = decodeTaskMessage(toRaw(task('options').envelope));
    assert.deepEqual(opts.headers.timelimit, [30, 20]);
    assert.equal(opts.headers.shadow, 'my-shadow-name');
    assert.equal(opts.headers.id, 'fixture0-0000-4000-8000-000000000003');
    assert.equal(opts.properties.priority, 7);
    assert.equal(opts.properties.expiration, '60000');
    // countdown=2 and expires=60 are both computed from one `now`.
    assert.equal(opts.expires!.getTime() - opts.eta!.getTime(), 58_000);

    const plain = decodeTaskMessage(toRaw(task('plain').envelope));
    assert.deepEqual([plain.args, plain.kwargs, plain.eta, plain.expires], [[2, 3], {}, null, null]);
    assert.deepEqual(plain.headers.timelimit, [null, null]);

    const kw = decodeTaskMessage(toRaw(task('kwargs').envelope));
    assert.deepEqual([kw.args, kw.kwargs], [[], { x: 1, y: 2 }]);

    assert.equal(decodeTaskMessage(toRaw(task('headers').envelope)).headers['trace'], 'abc');

    for (const name of ['retry', 'retry-exc']) {
      const t = task(name);
      const r = decodeTaskMessage(toRaw(t.envelope));
      assert.equal(r.headers.retries, 1);
      assert.equal(r.headers.parent_id, r.headers.id); // the retried task is its own parent
      assert.equal(r.headers.root_id, r.headers.id);
      assert.ok(r.eta, 'a retry with countdown carries an eta');
      // Celery 5.2 leaks these into the properties of a retried message; they must not trip us.
      assert.equal(r.properties['replaced_task_nesting'], 0);
      assert.equal(typeof r.properties['origin'], 'string');
    }
  });
});

describe('building messages like Python does', () => {
  for (const t of tasks) {
    test(t.case, () => {
      const h = t.envelope.headers;
      const p = t.envelope.properties;
      // The same instant truncated to the millisecond (what a JS caller's Date holds).
      const truncated = (text: unknown) => new Date(Date.parse(`${(text as string).slice(0, 23)}Z`));
      const eta = h['eta'] === null ? null : truncated(h['eta']);
      const expires = h['expires'] === null ? null : truncated(h['expires']);
      const userHeaders = Object.fromEntries(Object.entries(h).filter(([k]) => !HEADER_ORDER.includes(k)));
      const timelimit = h['timelimit'] as [number | null, number | null];
      const built = buildTaskMessage({
        task: h['task'] as string,
        id: h['id'] as string,
        args: t.body[0],
        kwargs: t.body[1],
        eta,
        expires,
        retries: h['retries'] as number,
        timelimit,
        rootId: h['root_id'] as string,
        parentId: h['parent_id'] as string | null,
        shadow: h['shadow'] as string | null,
        origin: h['origin'] as string,
        replyTo: p['reply_to'] as string,
        priority: t.case === 'options' ? 7 : null,
        headers: userHeaders,
        // The options case used countdown=2: its `now` is eta - 2 s.
        now: eta ? new Date(eta.getTime() - 2000) : new Date(),
      });
      const raw = encodeTaskMessage(built);

      // Same keys in the same order (16 standard, then the user's), same values but for lang and
      // the microseconds a Date cannot hold.
      assert.deepEqual(Object.keys(raw.headers), Object.keys(h));
      assert.equal(raw.headers['lang'], 'js');
      for (const key of Object.keys(h)) {
        if (key === 'lang') continue;
        if ((key === 'eta' || key === 'expires') && h[key] !== null) {
          assert.equal(raw.headers[key], `${(h[key] as string).slice(0, 23)}000+00:00`, key);
          continue;
        }
        assert.deepEqual(raw.headers[key], h[key], `header ${key}`);
      }

      // Properties: what core sets matches Python's values and relative order; the transport adds
      // delivery_info, body_encoding, delivery_tag (and priority on Redis).
      const ours = Object.keys(raw.properties);
      for (const key of ours) assert.deepEqual(raw.properties[key], p[key], `property ${key}`);
      const theirs = Object.keys(p).filter((k) => ours.includes(k));
      assert.deepEqual(ours, theirs);
      assert.equal('expiration' in raw.properties, 'expiration' in p);

      assert.equal(raw.contentType, t.envelope['content-type']);
      assert.equal(raw.contentEncoding, t.envelope['content-encoding']);
      const body = JSON.parse(raw.body) as unknown[];
      assert.deepEqual(body, t.body);
      assert.deepEqual(Object.keys(body[2] as object), Object.keys(t.body[2]));

      // And what we build, we decode.
      const back = decodeTaskMessage(raw);
      assert.deepEqual(back.headers, raw.headers);
      assert.deepEqual([back.args, back.kwargs], [t.body[0], t.body[1]]);
    });
  }

  test('expiration is a millisecond string, never negative', () => {
    const now = new Date('2026-11-21T13:00:00.000Z');
    const base = { task: 't', id: 'i', origin: 'o', replyTo: 'r', now };
    const soon = buildTaskMessage({ ...base, expires: new Date(now.getTime() + 1500.9) });
    assert.equal(soon.properties.expiration, '1500');
    const past = buildTaskMessage({ ...base, expires: new Date(now.getTime() - 60_000) });
    assert.equal(past.properties.expiration, '0');
    assert.equal(buildTaskMessage(base).properties.expiration, undefined);
  });
});

describe('argsrepr / kwargsrepr', () => {
  const { cases } = load<ReprCases>('repr-cases.json');
  cases.forEach((c, i) => {
    test(`saferepr case ${i}: ${JSON.stringify(c.args).slice(0, 50)}`, () => {
      assert.equal(argsRepr(c.args), c.argsrepr);
      assert.equal(kwargsRepr(c.kwargs), c.kwargsrepr);
    });
  });

  test('the shapes that differ from repr()', () => {
    const uni = task('unicode').envelope.headers;
    assert.equal(uni['argsrepr'], `('it\\'s', 'a"b', 'é', None, True, 1.5, [1, {'k': 'v'}])`);
    assert.equal(argsRepr(["it's", 'a"b', 'é', null, true, 1.5, [1, { k: 'v' }]]), uni['argsrepr']);
    assert.equal(argsRepr([1]), '(1,)');
    assert.equal(argsRepr([[[[1]]]]), '([[[...]]],)'); // the tuple is level 1; level 4 is elided
    const long = task('repr-long-string').envelope.headers['argsrepr'] as string;
    assert.ok(long.endsWith("...', ..."), long.slice(-20)); // the closing ",)" is lost, as in Celery
    assert.equal(argsRepr(['word '.repeat(300)]), long);
  });
});

describe('malformed messages', () => {
  const good = (): RawMessage => {
    const raw = toRaw(task('plain').envelope);
    return { ...raw, headers: { ...raw.headers } };
  };
  const body = (value: unknown) => ({ ...good(), body: JSON.stringify(value) });
  const embed = { callbacks: null, errbacks: null, chain: null, chord: null };

  test('the unmodified message decodes', () => {
    assert.doesNotThrow(() => decodeTaskMessage(good()));
  });
  test('bad JSON', () => {
    assert.throws(() => decodeTaskMessage({ ...good(), body: '[[2, 3], {}, ' }), reasonIs('body-not-json'));
  });
  test('a 2-element body', () => {
    assert.throws(() => decodeTaskMessage(body([[2, 3], {}])), reasonIs('body-shape'));
    assert.throws(() => decodeTaskMessage(body({ args: [] })), reasonIs('body-shape'));
  });
  test('missing id or task header', () => {
    const noId = good();
    delete noId.headers['id'];
    assert.throws(() => decodeTaskMessage(noId), reasonIs('missing-header'));
    const noTask = good();
    delete noTask.headers['task'];
    assert.throws(() => decodeTaskMessage(noTask), reasonIs('missing-header'));
  });
  test('pickle content type', () => {
    assert.throws(
      () => decodeTaskMessage({ ...good(), contentType: 'application/x-python-serialize' }),
      reasonIs('content-type'),
    );
  });
  test('unparsable or impossible eta / expires', () => {
    const bad = [
      ['eta', 'tomorrow'], ['eta', '2026-02-30T00:00:00'], ['expires', '2026-11-21T24:00:00'], ['eta', 5],
    ] as const;
    for (const [key, value] of bad) {
      const raw = good();
      raw.headers[key] = value;
      assert.throws(() => decodeTaskMessage(raw), reasonIs('bad-header'), `${key}=${value}`);
    }
    const dateOnly = good();
    dateOnly.headers['eta'] = '2026-11-21'; // Celery reads this as midnight (naive = UTC)
    assert.equal(decodeTaskMessage(dateOnly).eta?.toISOString(), '2026-11-21T00:00:00.000Z');
  });
  test('kwargs null, args not a list, embed not an object', () => {
    assert.throws(() => decodeTaskMessage(body([[1], null, embed])), reasonIs('bad-kwargs'));
    assert.throws(() => decodeTaskMessage(body([{}, {}, embed])), reasonIs('bad-args'));
    assert.throws(() => decodeTaskMessage(body([[], {}, [1]])), reasonIs('bad-embed'));
  });
  test('embed may be {} or null', () => {
    assert.deepEqual(decodeTaskMessage(body([[1], {}, {}])).embed, embed);
    assert.deepEqual(decodeTaskMessage(body([[1], {}, null])).embed, embed);
  });
  test('only lang/task/id headers (the minimum a 5.2 worker accepts)', () => {
    const m = decodeTaskMessage({ ...body([[1, 2], {}, {}]), headers: { lang: 'py', task: 'proj.add', id: 'x' } });
    assert.deepEqual([m.headers.retries, m.headers.timelimit, m.headers.root_id, m.eta], [0, [null, null], 'x', null]);
  });
});

test('kombu 5.3+ type markers are unwrapped', () => {
  const text =
    '[{"__type__": "uuid", "__value__": {"hex": "49e058e1f675411a85160caef17c6d54"}}, ' +
    '{"__type__": "datetime", "__value__": "2026-11-21T13:29:28.918253+00:00"}]';
  assert.deepEqual(parseKombuJson(text), [
    '49e058e1-f675-411a-8516-0caef17c6d54',
    '2026-11-21T13:29:28.918253+00:00',
  ]);
  assert.throws(() => parseKombuJson('{"__type__": "pickle", "__value__": "x"}'));
});
