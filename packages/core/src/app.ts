/**
 * The app: the task registry, the broker and result backend, and sending tasks.
 *
 * ```ts
 * const app = new App({ broker: 'sqlite:///celeriac.db' });
 * const add = app.task({ name: 'proj.add', params: ['x', 'y'] }, (ctx, x: number, y: number) => x + y);
 * const result = await add.delay(2, 3);
 * await result.get({ timeout: 10_000 }); // 5
 * ```
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { backendFromUrl, brokerFromUrl, checkUrl, DEFAULT_URL, schemeOf } from './adapters.js';
import { validateApplyOptions, type ApplyOptions } from './apply-options.js';
import type { ResultBackend } from './backend/result-backend.js';
import type { Broker, OutgoingMessage } from './broker/broker.js';
import { currentTask } from './current-task.js';
import { ClosedError, ConfigError, DuplicateTaskError, NoBackendError, NotSerializableError, StateError } from './errors.js';
import { applySignature, type CanvasApplyOptions } from './canvas/send.js';
import type { ChordSignature, GroupSignature, Signature } from './canvas/signature.js';
import { GroupResult } from './group-result.js';
import { consoleLogger, type Logger } from './logger.js';
import { buildTaskMessage, encodeTaskMessage, NOTIFY_HEADER, type RawMessage, type TaskMessage } from './protocol/task-message.js';
import type { Embed } from './protocol/signature-data.js';
import { AsyncResult } from './result.js';
import { Task, type RegisteredTask, type TaskFunction } from './task.js';
import { resolveTaskOptions, type TaskOptions } from './task-options.js';

/** Schemes whose package also provides a result backend, so a broker URL doubles as one. */
const BACKEND_SCHEMES = new Set(['sqlite', 'redis', 'rediss', 'memory']);

export interface AppOptions {
  /**
   * A broker, or its URL. @default env CELERIAC_BROKER_URL, else `sqlite:///celeriac.db` (the
   * embedded store in the working directory)
   */
  broker?: Broker | string;
  /**
   * A result backend, its URL, or `null` for none. @default env CELERIAC_RESULT_BACKEND, else the
   * broker URL when its scheme has a backend (sqlite, redis, memory), else none
   */
  backend?: ResultBackend | string | null;
  /** Queue for tasks that name none. @default "celery" */
  defaultQueue?: string;
  /** Seconds results are kept; `null` keeps them forever. @default 86400 (one day, as Celery) */
  resultExpires?: number | null;
  /** Store name, args, kwargs, worker, retries and queue with each result. @default true */
  resultExtended?: boolean;
  /** @default a console logger at "warn" */
  logger?: Logger;
}

export class App {
  readonly defaultQueue: string;
  readonly resultExpires: number | null;
  readonly resultExtended: boolean;
  private currentLogger: Logger;
  /** This client's reply identifier (`reply_to` on every message it sends). */
  readonly oid: string = randomUUID();
  /** `gen<pid>@<host>`, Celery's origin for clients. */
  readonly origin = `gen${process.pid}@${hostname()}`;
  private readonly registry = new Map<string, RegisteredTask>();
  private brokerInstance: Broker | null;
  private backendInstance: ResultBackend | null;
  private readonly brokerUrl: string | null;
  private readonly backendUrl: string | null;
  private connecting: Promise<void> | null = null;
  /** `connecting` has resolved: sends need not wait on it. */
  private connected = false;
  private closed = false;
  /** What every AsyncResult of this app reads its backend through (one function for all of them). */
  private readonly backendRef = (): ResultBackend | null => this.backendInstance;

  constructor(options: AppOptions = {}) {
    this.defaultQueue = options.defaultQueue ?? 'celery';
    if (typeof this.defaultQueue !== 'string' || this.defaultQueue === '') {
      throw new ConfigError(`app option "defaultQueue" must be a non-empty string, got ${JSON.stringify(options.defaultQueue)}`);
    }
    this.resultExpires = options.resultExpires === undefined ? 86_400 : options.resultExpires;
    if (this.resultExpires !== null && !(typeof this.resultExpires === 'number' && this.resultExpires > 0)) {
      throw new ConfigError(`app option "resultExpires" must be a positive number of seconds or null, got ${JSON.stringify(options.resultExpires)}`);
    }
    this.resultExtended = options.resultExtended ?? true;
    this.currentLogger = options.logger ?? consoleLogger('warn');

    const broker = options.broker ?? process.env['CELERIAC_BROKER_URL'] ?? DEFAULT_URL;
    this.brokerInstance = typeof broker === 'string' ? null : broker;
    this.brokerUrl = typeof broker === 'string' ? broker : null;
    if (this.brokerUrl !== null) checkUrl(this.brokerUrl); // validate early

    let backend = options.backend === undefined ? (process.env['CELERIAC_RESULT_BACKEND'] ?? undefined) : options.backend;
    if (backend === undefined) backend = this.brokerUrl !== null && BACKEND_SCHEMES.has(schemeOf(this.brokerUrl)) ? this.brokerUrl : null;
    this.backendInstance = typeof backend === 'string' || backend === null ? null : backend;
    this.backendUrl = typeof backend === 'string' ? backend : null;
    if (this.backendUrl !== null) checkUrl(this.backendUrl);
  }

  get logger(): Logger {
    return this.currentLogger;
  }

  /**
   * Replaces the logger (the CLI applies `--loglevel` this way). Only before the app connects:
   * adapters and workers take the logger when they are created.
   */
  setLogger(logger: Logger): void {
    if (this.connecting) throw new StateError('app.setLogger() must be called before the app connects');
    this.currentLogger = logger;
  }

  /** Defines and registers a task. Options are validated now. */
  task<A extends unknown[], R>(nameOrOptions: string | TaskOptions, fn: TaskFunction<A, R>): Task<A, Awaited<R>> {
    const options = resolveTaskOptions(typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions);
    if (typeof fn !== 'function') throw new ConfigError(`task ${options.name}: the task function must be a function, got ${typeof fn}`);
    if (this.registry.has(options.name)) throw new DuplicateTaskError(options.name);
    const task = new Task<A, Awaited<R>>(this, options, fn as TaskFunction<A, Awaited<R>>);
    this.registry.set(options.name, task);
    return task;
  }

  /** Registered tasks by name. */
  get tasks(): ReadonlyMap<string, RegisteredTask> {
    return this.registry;
  }

  /** Connects the broker and backend (resolving URLs to adapters). Called on first use. */
  connect(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the app'));
    this.connecting ??= (async () => {
      if (!this.brokerInstance) this.brokerInstance = await brokerFromUrl(this.brokerUrl!, { logger: this.logger });
      if (!this.backendInstance && this.backendUrl) this.backendInstance = await backendFromUrl(this.backendUrl, { logger: this.logger, broker: this.brokerInstance, replyTo: this.oid });
      await this.brokerInstance.connect();
      await this.backendInstance?.connect();
      this.connected = true;
    })().catch((err: unknown) => {
      this.connecting = null; // a later call tries again (the server may be back)
      throw err;
    });
    return this.connecting;
  }

  /** The broker (after `connect()`). */
  get broker(): Broker {
    if (!this.brokerInstance) throw new ConfigError('the app is not connected yet: await app.connect() first');
    return this.brokerInstance;
  }

  /** The result backend, or null when the app has none (after `connect()` for URL backends). */
  get backend(): ResultBackend | null {
    return this.backendInstance;
  }

  /** A handle on a task's result by id. */
  asyncResult<R = unknown>(taskId: string): AsyncResult<R> {
    return new AsyncResult<R>(taskId, this.backendRef);
  }

  /**
   * Sends a task by name: one of ours, or one that only another worker (e.g. Python) knows.
   * Resolves once the broker has the message.
   */
  sendTask<R = unknown>(name: string, options: ApplyOptions<readonly unknown[]> = {}, task?: RegisteredTask): Promise<AsyncResult<R>> {
    // sendTasks() of this one call, without the arrays around it (a task sent on its own is
    // usually awaited next, and this is the client's side of that round trip).
    // Not an async function: an awaited publish resumes the function on its own, so TurboFan
    // compiled it on its own besides inlining it into its caller; errors still reject.
    try {
      const out = this.outgoing(name, options, task, undefined, currentTask() === undefined);
      if (!this.connected || this.closed) return this.connectAndPublish<R>(out);
      return this.broker.publish(out.message, out.options).then(() => new AsyncResult<R>(out.id, this.backendRef));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** sendTask() before the app is connected (or after it closed, which rejects). */
  private async connectAndPublish<R>(out: Outgoing): Promise<AsyncResult<R>> {
    await this.connect();
    await this.broker.publish(out.message, out.options);
    return new AsyncResult<R>(out.id, this.backendRef);
  }

  /**
   * Sends many tasks in as few broker round trips as the broker allows (one transaction on SQLite).
   * Resolves once the broker has all of them.
   */
  async sendTasks(calls: ReadonlyArray<SendCall>): Promise<AsyncResult[]> {
    const single = calls.length === 1 && currentTask() === undefined;
    const outgoing = calls.map(({ name, options = {}, task, canvas }) => this.outgoing(name, options, task, canvas, single));
    if (!this.connected || this.closed) await this.connect();
    await this.broker.publishMany(outgoing);
    return outgoing.map((o) => new AsyncResult(o.id, this.backendRef));
  }

  /**
   * A call as the broker takes it. `single`: sent on its own and not from inside a task (see below).
   */
  private outgoing(name: string, options: ApplyOptions<readonly unknown[]>, given: RegisteredTask | undefined, canvas: CanvasFields | undefined, single: boolean): Outgoing {
    // A workflow names its tasks: when one is ours, its defaults (queue, priority, expires) apply.
    const task = given ?? this.registry.get(name);
    const message = this.buildMessage(name, options, task, canvas);
    // One task sent on its own is usually awaited next (a request waiting on its result): its
    // result watch is armed alongside the send. Bulk sends skip it (thousands of subscriptions).
    // Not from inside a task: a task should not wait on another (Celery refuses result.get() there),
    // nor for a worker continuing a workflow (a chain's next step, a chord's body).
    if (single && canvas?.parentId === undefined && !message.headers.ignore_result) {
      // The backend may name a channel for the worker to tell us on (its header goes along).
      const notify = this.backendInstance?.expect?.(message.headers.id);
      if (typeof notify === 'string') message.headers[NOTIFY_HEADER] = notify;
    }
    return {
      message: encodeForSend(message),
      options: { queue: options.queue ?? task?.options.queue ?? this.defaultQueue, priority: message.properties.priority ?? 0, notBefore: message.eta },
      id: message.headers.id,
    };
  }

  /** Builds the protocol v2 message a call would send (also used for retries and bulk sends). */
  buildMessage(name: string, options: ApplyOptions<readonly unknown[]>, task?: RegisteredTask, canvas: CanvasFields = NO_CANVAS): TaskMessage {
    validateApplyOptions(name, options);
    const parent = canvas.parentId !== undefined ? { id: canvas.parentId, rootId: canvas.rootId } : currentTask();
    const expiresOpt = options.expires ?? task?.options.expires;
    // The clock is read only for what is relative to now (most calls have neither).
    const now = options.countdown !== undefined || expiresOpt !== undefined ? new Date() : undefined;
    const eta = options.eta ?? (options.countdown !== undefined ? new Date(now!.getTime() + options.countdown * 1000) : null);
    const expires = expiresOpt === undefined ? null : expiresOpt instanceof Date ? expiresOpt : new Date(now!.getTime() + expiresOpt * 1000);
    const id = options.taskId ?? randomUUID();
    return buildTaskMessage({
      task: name,
      id,
      args: options.args ?? [],
      kwargs: options.kwargs ?? {},
      eta,
      expires,
      timelimit: [options.timeLimit ?? null, options.softTimeLimit ?? null],
      rootId: canvas.rootId ?? parent?.rootId ?? id,
      parentId: parent?.id ?? null,
      group: canvas.group ?? null,
      groupIndex: canvas.groupIndex ?? null,
      embed: canvas.embed,
      shadow: options.shadow ?? null,
      origin: this.origin,
      replyTo: canvas.replyTo ?? this.oid,
      ignoreResult: options.ignoreResult ?? task?.options.ignoreResult ?? false,
      priority: options.priority ?? task?.options.priority ?? null,
      headers: options.headers,
      now,
    });
  }

  /**
   * Applies a signature: a task call, a chain, group or chord (canvas/primitives.ts). Sends its
   * messages (a chord's size is recorded first) and returns its result: a GroupResult for a group
   * (or a chain that ends in one, or chunks), else the AsyncResult of the task that finishes the
   * workflow (a chain's last step, a chord's body), whose `parent` leads back through the rest.
   */
  apply(sig: GroupSignature, options?: CanvasApplyOptions): Promise<GroupResult>;
  apply(sig: ChordSignature, options?: CanvasApplyOptions): Promise<AsyncResult>;
  apply(sig: Signature, options?: CanvasApplyOptions): Promise<AsyncResult | GroupResult>;
  apply(sig: Signature, options: CanvasApplyOptions = {}): Promise<AsyncResult | GroupResult> {
    return applySignature(this, sig, options);
  }

  /** A saved group (`GroupResult.save()`), by id; null when none is saved. */
  async restoreGroup(groupId: string): Promise<GroupResult | null> {
    await this.connect();
    if (!this.backendInstance) throw new NoBackendError(`restoreGroup(${groupId})`);
    return GroupResult.restore(this.backendInstance, groupId);
  }

  /** Closes the broker and backend (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    await this.brokerInstance?.close();
    await this.backendInstance?.close();
  }
}

/** One task to send: its name, call options, and (for the canvas) the fields a call cannot set. */
export interface SendCall {
  readonly name: string;
  readonly options?: ApplyOptions<readonly unknown[]>;
  readonly task?: RegisteredTask;
  readonly canvas?: CanvasFields;
}

/** Message fields the canvas sets: the group, the embedded callbacks/chain/chord, ids. */
export interface CanvasFields {
  readonly group?: string | null;
  readonly groupIndex?: number | null;
  readonly embed?: Partial<Embed>;
  /** Set together with parentId: the workflow's first task. */
  readonly rootId?: string;
  /** The task whose completion sends this one (instead of the task running now, if any). */
  readonly parentId?: string | null;
  /** The client that waits for results (`reply_to`). @default this app's oid */
  readonly replyTo?: string;
}

const NO_CANVAS: CanvasFields = {};

/** A message to publish, with its task id. */
interface Outgoing extends OutgoingMessage {
  readonly id: string;
}

/** Encodes a message, turning a JSON failure into a clear error that names what failed. */
export function encodeForSend(message: TaskMessage): RawMessage {
  try {
    return encodeTaskMessage(message);
  } catch (cause) {
    throw new NotSerializableError(`the arguments of ${message.headers.task}`, { cause });
  }
}
