/**
 * kombu's Redis key layout (shared/celery-wire-protocol.md §2.1), with an optional prefix on every
 * key and channel like kombu's `global_keyprefix`. Pure: names only, no I/O.
 *
 * | key                                   | type | content                                        |
 * |---------------------------------------|------|------------------------------------------------|
 * | `<q>`, `<q>␆␖3`, `<q>␆␖6`, `<q>␆␖9`    | list | messages by priority bucket (0–2, 3–5, 6–8, 9)  |
 * | `_kombu.binding.<exchange>`           | set  | `<routing key>␆␖<pattern>␆␖<queue>`             |
 * | `unacked`                             | hash | delivery tag → `[envelope, exchange, routing key]` |
 * | `unacked_index`                       | zset | delivery tag → epoch seconds (float)           |
 * | `unacked_mutex`                       | str  | lock for the restore sweep                     |
 * | `/<db>.<exchange>[/<routing key>]`    | chan | fanout over Pub/Sub                            |
 *
 * celeriac adds two keys of its own for dead letters (Celery has none on Redis):
 * `celeriac.dead-letters` (hash id → JSON entry), `celeriac.dead-letters.index` (zset id → sequence
 * number, oldest first) and `celeriac.dead-letters.seq` (the counter); and three for the landing
 * lists of idle consumers (landing.ts): `celeriac.landings`, `celeriac.landing.<member>`,
 * `celeriac.alive.<consumer id>`.
 *
 * Values stored inside keys (binding members, the routing key in `unacked` entries) name queues
 * without the prefix, as kombu does: the prefix belongs to key names only.
 */
import { clampPriority } from '@celeriac/core';

/** kombu's separator: ACK + SYN. */
export const SEP = '\x06\x16';

/** kombu's default `priority_steps`: each list holds the priorities from its step to the next. */
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;

/** The step whose list a priority goes to: clamped to 0–9, then the largest step ≤ it. */
export function priorityStep(priority: number | null | undefined): number {
  const p = clampPriority(priority);
  let step = 0;
  // Indexed, not for...of: the iterator protocol made TurboFan build a graph several times this size.
  for (let i = 0; i < PRIORITY_STEPS.length; i++) if (PRIORITY_STEPS[i]! <= p) step = PRIORITY_STEPS[i]!;
  return step;
}

/** The list name (unprefixed) for a queue and priority step: bare for 0, `<q>␆␖<step>` otherwise. */
export function bucketName(queue: string, step: number): string {
  return step === 0 ? queue : `${queue}${SEP}${step}`;
}

/** The member Celery adds to `_kombu.binding.<queue>` when it declares a queue. */
export function bindingMember(routingKey: string, pattern: string, queue: string): string {
  return [routingKey, pattern, queue].join(SEP);
}

/** A parsed binding member. */
export interface Binding {
  readonly routingKey: string;
  readonly pattern: string;
  readonly queue: string;
}

/** A landing list's member of `celeriac.landings`: the consumer's id (a UUID, no ':') and its queue. */
export function landingMember(consumerId: string, queue: string): string {
  return `${consumerId}:${queue}`;
}

export function parseLandingMember(member: string): { readonly consumerId: string; readonly queue: string } | null {
  const at = member.indexOf(':');
  if (at <= 0) return null;
  return { consumerId: member.slice(0, at), queue: member.slice(at + 1) };
}

export function parseBindingMember(member: string): Binding | null {
  const parts = member.split(SEP);
  if (parts.length !== 3) return null;
  const [routingKey, pattern, queue] = parts as [string, string, string];
  return { routingKey, pattern, queue };
}

/** Every key name the broker uses, with the prefix applied. */
export class KombuKeys {
  readonly unacked: string;
  readonly unackedIndex: string;
  readonly unackedMutex: string;
  readonly deadLetters: string;
  readonly deadLetterIndex: string;
  readonly deadLetterSeq: string;

  constructor(
    readonly prefix: string,
    readonly db: number,
  ) {
    this.unacked = `${prefix}unacked`;
    this.unackedIndex = `${prefix}unacked_index`;
    this.unackedMutex = `${prefix}unacked_mutex`;
    this.deadLetters = `${prefix}celeriac.dead-letters`;
    this.deadLetterIndex = `${prefix}celeriac.dead-letters.index`;
    this.deadLetterSeq = `${prefix}celeriac.dead-letters.seq`;
  }

  /** The list for a queue and priority (any number; it is mapped to its step). */
  list(queue: string, priority: number): string {
    return this.prefix + bucketName(queue, priorityStep(priority));
  }

  /** The four lists of a queue, in the order they are served (bare list, i.e. priority 0, first). */
  lists(queue: string): string[] {
    return PRIORITY_STEPS.map((step) => this.prefix + bucketName(queue, step));
  }

  /**
   * celeriac's landing lists (landing.ts): `landings` (set of members `<consumer id>:<queue>`),
   * `celeriac.landing.<member>` (list: messages an idle consumer's wait took, for the instant
   * until they are acknowledged or recorded in `unacked`) and `celeriac.alive.<consumer id>`
   * (string with a time to live: the consumer is alive while it exists).
   */
  get landings(): string {
    return `${this.prefix}celeriac.landings`;
  }

  landing(member: string): string {
    return `${this.prefix}celeriac.landing.${member}`;
  }

  alive(consumerId: string): string {
    return `${this.prefix}celeriac.alive.${consumerId}`;
  }

  binding(exchange: string): string {
    return `${this.prefix}_kombu.binding.${exchange}`;
  }

  /** kombu's fanout channel (`fanout_prefix` and `fanout_patterns` on, their defaults). */
  fanoutChannel(exchange: string, routingKey = ''): string {
    const base = `${this.prefix}/${this.db}.${exchange}`;
    return routingKey ? `${base}/${routingKey}` : base;
  }
}
