/**
 * Loading the golden fixtures captured from real Celery 5.2.6 / kombu 5.2.4 (fixtures/celery-5.2,
 * made by capture.py there; never hand-edited), shared by the protocol tests.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { BadMessageError } from '../src/errors.js';
import type { RawMessage } from '../src/protocol/task-message.js';

export const FIXTURES = new URL('./fixtures/celery-5.2/', import.meta.url);

export interface Envelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
}
export interface TaskFixture {
  case: string;
  python_call: string;
  redis_list?: string;
  envelope: Envelope;
  body_text: string;
  body: [unknown[], Record<string, unknown>, Record<string, unknown>];
}
export interface ResultFixture {
  case: string;
  python_call: string;
  meta: Record<string, unknown>;
}
export type Parsed = { epoch_us: number; naive: boolean; isoformat: string } | { error: string };
export interface IsoTimes {
  format: { epoch_us: number; aware_utc_isoformat: string; pytz_utc_isoformat: string; naive_utc_isoformat: string }[];
  parse: { input: string; parse_iso8601: Parsed; fromisoformat: Parsed }[];
}
export interface ReprCases {
  cases: { args: unknown[]; kwargs: Record<string, unknown>; argsrepr: string; kwargsrepr: string }[];
}

export function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
}
export const fixtureNames = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
export const tasks = fixtureNames.filter((f) => f.startsWith('task-')).map((f) => load<TaskFixture>(f));
export const results = new Map(
  fixtureNames.filter((f) => f.startsWith('result-')).map((f) => {
    const r = load<ResultFixture>(f);
    return [r.case, r] as const;
  }),
);
export function task(name: string): TaskFixture {
  const t = tasks.find((x) => x.case === name);
  assert.ok(t, `fixture task-${name}.json is missing`);
  return t;
}
export function result(name: string): ResultFixture {
  const r = results.get(name);
  assert.ok(r, `fixture result-${name}.json is missing`);
  return r;
}

/** A kombu Redis envelope as the transport-neutral RawMessage a broker adapter hands to core. */
export function toRaw(env: Envelope): RawMessage {
  const encoded = env.properties['body_encoding'] === 'base64';
  return {
    headers: env.headers,
    properties: env.properties,
    body: encoded ? Buffer.from(env.body, 'base64').toString('utf8') : env.body,
    contentType: env['content-type'],
    contentEncoding: env['content-encoding'],
  };
}

/**
 * A header timestamp at the millisecond precision a Date holds, sub-millisecond digits rounded up
 * as parseIso does so an eta is never early (read independently of parseIso).
 */
export function headerMs(text: unknown): number {
  assert.equal(typeof text, 'string');
  assert.match(text as string, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/);
  const micros = (text as string).slice(23, 26);
  return Date.parse(`${(text as string).slice(0, 23)}Z`) + (micros === '000' ? 0 : 1);
}

export function reasonIs(reason: string) {
  return (err: unknown) => {
    assert.ok(err instanceof BadMessageError, `expected BadMessageError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.ok(err.message.length > 0);
    return true;
  };
}

export const HEADER_ORDER = [
  'lang', 'task', 'id', 'shadow', 'eta', 'expires', 'group', 'group_index', 'retries', 'timelimit',
  'root_id', 'parent_id', 'argsrepr', 'kwargsrepr', 'origin', 'ignore_result',
];

