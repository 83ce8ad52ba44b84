/**
 * The worker: consumes queues, runs tasks with async concurrency N, reports their results.
 *
 * ```ts
 * const worker = Worker.create(app, { queues: ['celery'], concurrency: 10 });
 * await worker.run();        // resolves after shutdown
 * await worker.shutdown();   // from elsewhere: stop taking work, finish what runs, give back the rest
 * ```
 *
 * Lifecycle: created -> starting -> running -> stopping -> stopped.
 */
import { hostname as osHostname } from 'node:os';
import type { App } from '../app.js';
import type { Consumer, Delivery } from '../broker/broker.js';
import { BadMessageError, ConfigError, StateError } from '../errors.js';
import { Lifecycle } from '../lifecycle.js';
import { States } from '../protocol/result-meta.js';
import { decodeTaskMessage } from '../protocol/task-message.js';
import { holdTaskStorage, isThenable } from '../current-task.js';
import { TaskRequest } from './request.js';
import { Reporter } from './reporter.js';
import { ResultWriter } from './result-writer.js';
import { executeTask, type ExecutionEnv, type Outcome } from './task-execution.js';
import { WorkSet } from './work-set.js';
import { builtinTasks } from '../canvas/builtins.js';
import type { RegisteredTask } from '../task.js';

export interface WorkerOptions {
  /** Queues to consume. @default [app.defaultQueue] */
  queues?: readonly string[];
  /**
   * Task bodies run at once. Recording a finished task's result and settling its message go on
   * after its slot is free (at most `concurrency × prefetchMultiplier` of them at a time).
   * @default 10
   */
  concurrency?: number;
  /** Messages reserved per concurrency slot (prefetch = concurrency × multiplier). @default 4 */
  prefetchMultiplier?: number;
  /** Node name, `name@host`. @default `celeriac@<hostname>` */
  hostname?: string;
  /** Handle SIGTERM/SIGINT: first a warm shutdown, a second one a cold shutdown. @default false */
  handleSignals?: boolean;
}

export type WorkerState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

const TRANSITIONS: Record<WorkerState, WorkerState[]> = {
  created: ['starting', 'stopped'],
  starting: ['running', 'stopping', 'stopped'],
  running: ['stopping'],
  stopping: ['stopped'],
  stopped: [],
};

/** Counters since start, for progress lines and tests. */
export interface WorkerStats {
  received: number;
  succeeded: number;
  failed: number;
  retried: number;
  revoked: number;
  deadLettered: number;
}

export class Worker {
  readonly hostname: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly stats: WorkerStats = { received: 0, succeeded: 0, failed: 0, retried: 0, revoked: 0, deadLettered: 0 };
  private readonly lifecycle: Lifecycle<WorkerState>;
  private readonly prefetch: number;
  private readonly writer: ResultWriter;
  private readonly reporter: Reporter;
  private consumer: Consumer | null = null;
  /** Connecting and subscribing; a shutdown that arrives meanwhile waits for it. */
  private startup: Promise<void> | null = null;
  private readonly ready: TaskRequest[] = [];
  private readonly held = new Map<TaskRequest, NodeJS.Timeout>();
  private readonly active = new Set<TaskRequest>();
  /**
   * Tasks whose body has finished and whose outcome is being recorded and settled. They no longer
   * hold a concurrency slot (concurrency bounds the task bodies running at once), so a worker keeps
   * running tasks while earlier results are on their way to the backend; at most `prefetch` of them
   * at a time, which bounds the writes in flight. A warm shutdown waits for them; a cold one gives
   * late-ack ones back, as it does running tasks, and waits for none (a backend that is down
   * would hold it for as long as the outage lasts).
   */
  private readonly reporting = new Set<TaskRequest>();
  private readonly reportingWork: WorkSet;
  /** Accepting, recording and settling work in flight, awaited before the worker stops. */
  private readonly pending: WorkSet;
  /** Task bodies that returned a promise; a warm shutdown waits for them, a cold one does not. */
  private readonly running: WorkSet;
  /** What task bodies get to report progress (one object for every task). */
  private readonly env: ExecutionEnv;
  private pumping = false;
  /** A pump() is queued as a microtask (pumpSoon). */
  private pumpQueued = false;
  private coldRequested = false;
  private stopped!: Promise<void>;
  private resolveStopped!: () => void;
  private readonly signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  /** Celery's built-in canvas tasks (celery.map, celery.starmap, celery.chunks), unless the app defines its own. */
  private readonly builtins: ReadonlyMap<string, RegisteredTask>;

  private constructor(
    private readonly app: App,
    private readonly options: WorkerOptions,
  ) {
    this.hostname = options.hostname ?? `celeriac@${osHostname()}`;
    this.queues = options.queues?.length ? [...options.queues] : [app.defaultQueue];
    this.concurrency = options.concurrency ?? 10;
    const multiplier = options.prefetchMultiplier ?? 4;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new ConfigError(`worker option "concurrency" must be a positive integer, got ${JSON.stringify(options.concurrency)}`);
    if (!Number.isInteger(multiplier) || multiplier < 1) throw new ConfigError(`worker option "prefetchMultiplier" must be a positive integer, got ${JSON.stringify(options.prefetchMultiplier)}`);
    if (!this.queues.every((q) => typeof q === 'string' && q !== '')) throw new ConfigError(`worker option "queues" must list non-empty names, got ${JSON.stringify(options.queues)}`);
    this.prefetch = this.concurrency * multiplier;
    this.lifecycle = new Lifecycle<WorkerState>(`worker ${this.hostname}`, 'created', TRANSITIONS, app.logger);
    this.writer = new ResultWriter(app, this.hostname);
    this.reporter = new Reporter(app, this.writer, this.stats, this.hostname);
    const logError = (error: unknown) => app.logger.error('worker error', { error });
    this.pending = new WorkSet(logError);
    this.running = new WorkSet(logError);
    this.reportingWork = new WorkSet(logError);
    this.env = {
      hostname: this.hostname,
      updateState: (req, state, meta) => {
        // Once the task has been reported, a late progress call must not replace its final state.
        if (req.ignoreResult || req.finished) return Promise.resolve();
        req.stateStored = true;
        return this.writer.store(req.message, req.delivery.queue, state, meta);
      },
    };
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.builtins = builtinTasks(app);
  }

  static create(app: App, options: WorkerOptions = {}): Worker {
    return new Worker(app, options);
  }

  get state(): WorkerState {
    return this.lifecycle.state;
  }

  /** Starts consuming and resolves when the worker has shut down. */
  async run(): Promise<void> {
    if (!this.lifecycle.is('created')) throw new StateError(`worker.run() was called in state ${this.state}`);
    this.lifecycle.set('starting');
    if (this.options.handleSignals) this.installSignalHandlers();
    this.startup = (async () => {
      await this.app.connect();
      this.consumer = await this.app.broker.consume(this.queues, (d) => this.onDelivery(d), { prefetch: this.prefetch });
      // ETA tasks delivered before consume() returned were held without a consumer to widen.
      if (this.held.size) this.consumer.setPrefetch(this.prefetch + this.held.size);
    })();
    try {
      await this.startup;
    } catch (err) {
      this.removeSignalHandlers();
      this.lifecycle.set('stopped');
      this.resolveStopped();
      throw err;
    }
    // A shutdown that began while starting cancels the consumer itself once startup is over.
    if (this.lifecycle.is('starting')) {
      this.lifecycle.set('running');
      this.app.logger.info(`worker ${this.hostname} ready`, { queues: this.queues, concurrency: this.concurrency });
      this.pump(); // deliveries may have arrived while starting
    }
    await this.stopped;
  }

  /**
   * Stops taking work. Warm (default): waits for running tasks, gives back reserved and held ones.
   * Cold: also aborts running tasks' signals and gives back the late-ack ones without waiting.
   */
  async shutdown(options: { cold?: boolean } = {}): Promise<void> {
    if (this.lifecycle.is('created')) {
      this.lifecycle.set('stopped');
      this.resolveStopped();
      return;
    }
    if (this.lifecycle.is('stopped')) return;
    if (options.cold) {
      this.coldRequested = true;
      // Stop deliveries first, or a message given back could be delivered to us again.
      await this.startup?.catch(() => undefined);
      await this.consumer?.cancel();
      this.abortActive();
    }
    if (this.lifecycle.is('stopping')) return this.stopped;
    this.lifecycle.set('stopping');
    this.app.logger.info(`worker ${this.hostname} shutting down`, { running: this.active.size, reserved: this.ready.length + this.held.size });
    await this.startup?.catch(() => undefined);
    await this.consumer?.cancel();
    const giveBack = [...this.ready, ...this.held.keys()];
    this.ready.length = 0;
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
    await Promise.all(giveBack.map((r) => r.reject(true)));
    // Warm: wait for running tasks. Cold: only for settling work (late-ack messages going back).
    for (;;) {
      // Warm: running tasks and their reporting too. Re-checked at least every 50 ms: a cold
      // shutdown may stop the wait for them.
      const sets = this.coldRequested ? [this.pending] : [this.pending, this.running, this.reportingWork];
      const busy = sets.filter((set) => set.size > 0);
      if (busy.length === 0) break;
      await Promise.race([sleep(50), ...busy.map((set) => set.changed())]);
    }
    this.removeSignalHandlers();
    this.lifecycle.set('stopped');
    this.resolveStopped();
  }

  private onDelivery(delivery: Delivery): void {
    try {
      const work = this.accept(delivery);
      if (work) this.pending.add(work);
    } catch (err) {
      this.app.logger.error('worker error', { error: err });
    }
  }

  /** Decodes a delivery and queues it to run; returns the work it started when it did not queue it. */
  private accept(delivery: Delivery): Promise<void> | void {
    if (!this.lifecycle.is('running', 'starting')) return delivery.reject(true);
    this.stats.received++;
    let message;
    try {
      message = decodeTaskMessage(delivery.message);
    } catch (err) {
      // Whatever the defect, the message is set aside with it: never lost, never a crash.
      if (err instanceof BadMessageError) return this.reporter.deadLetter(delivery, `bad-message:${err.reason}`, err.message);
      return this.reporter.deadLetter(delivery, 'bad-message:undecodable', `message could not be decoded: ${(err as Error).message}`);
    }
    const task = this.app.tasks.get(message.headers.task) ?? this.builtins.get(message.headers.task);
    if (!task) return this.reporter.unregistered(delivery, message);
    const request = new TaskRequest(delivery, message, task);
    if (request.isExpired(Date.now())) return this.reporter.revokeExpired(request);
    const wait = message.eta ? message.eta.getTime() - Date.now() : 0;
    if (wait > 0) return this.hold(request, wait);
    this.ready.push(request);
    this.pumpSoon();
  }

  /**
   * Runs pump() in a microtask (once for every delivery of a batch): the broker's code that
   * delivered them goes on first (a consumer asking for its next messages creates its promises
   * there) while no task body runs. A task body runs inside an AsyncLocalStorage
   * (current-task.ts), whose promise hooks Node removes only in a microtask queued as the body
   * returns: every promise made before that microtask runs pays for the hooks (an async id and
   * init/before/after calls), about a fifth of a no-op task's cost when it was the broker's.
   */
  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // A promise reaction rather than queueMicrotask(), which makes an AsyncResource per call.
    void RESOLVED.then(this.pumpQueuedNow);
  }

  private readonly pumpQueuedNow = (): void => {
    this.pumpQueued = false;
    this.pump();
  };

  /**
   * Keeps an ETA task until it is due; raises prefetch by one meanwhile, as Celery does. A timer
   * that fires before the due time by the wall clock (timers keep their own, coarser clock; and a
   * wait longer than a timer can take, ~24.8 days, is made in steps) is set again for the rest.
   */
  private hold(request: TaskRequest, waitMs: number): void {
    const due = Date.now() + waitMs;
    const arm = (ms: number) =>
      setTimeout(() => {
        const left = due - Date.now();
        if (left > 0 && this.held.has(request)) {
          this.held.set(request, arm(left));
          return;
        }
        this.held.delete(request);
        this.consumer?.setPrefetch(this.prefetch + this.held.size);
        if (!this.lifecycle.is('running')) return;
        this.ready.push(request);
        this.pump();
      }, Math.min(ms, 2 ** 31 - 1));
    this.held.set(request, arm(waitMs));
    this.consumer?.setPrefetch(this.prefetch + this.held.size);
  }

  private pump(): void {
    // A task that finishes at once frees its slot inside start(): the loop below takes the next
    // one, rather than a nested pump() per task.
    if (this.pumping) return;
    this.pumping = true;
    // Tasks started in a row here share one turn of the task storage on and off (current-task.ts).
    const release = this.ready.length > 1 ? holdTaskStorage() : null;
    try {
      while (this.active.size < this.concurrency && this.reporting.size < this.prefetch && this.ready.length && this.lifecycle.is('running')) {
        this.start(this.ready.shift()!);
      }
    } finally {
      this.pumping = false;
      release?.();
    }
  }

  /** Runs a request in a slot, freed as soon as its body is done. */
  private start(request: TaskRequest): void {
    this.active.add(request);
    let running: Promise<void> | void = undefined;
    try {
      running = this.runRequest(request);
    } catch (err) {
      this.app.logger.error('worker error', { error: err });
    }
    if (running) {
      this.running.add(running, (failed, err) => {
        if (failed) this.app.logger.error('worker error', { error: err });
        this.active.delete(request);
        this.pump();
      });
    } else {
      this.active.delete(request);
    }
  }

  private runRequest(request: TaskRequest): Promise<void> | void {
    if (request.isExpired(Date.now())) return this.reporter.revokeExpired(request);
    if (!request.acksLate) {
      // Early ack, sent as the task starts and not waited for (one round trip less per task). If
      // it fails the message is still the broker's: it comes back, and at-least-once holds.
      this.pending.add(request.ack(), (failed, err) => {
        if (failed) this.app.logger.error(`acknowledging task ${request.name}[${request.id}] failed; the broker may deliver it again`, { error: err });
      });
    }
    if (request.task.options.trackStarted && !request.ignoreResult) return this.runStarted(request);
    return this.execute(request);
  }

  private async runStarted(request: TaskRequest): Promise<void> {
    const started = { pid: process.pid, hostname: this.hostname };
    request.stateStored = true;
    await this.reporter.save(request.id, () => this.writer.store(request.message, request.delivery.queue, States.STARTED, started));
    await this.execute(request);
  }

  /** Runs the body; once it is done, its outcome is reported without holding the slot. */
  private execute(request: TaskRequest): Promise<void> | void {
    const outcome = executeTask(request, this.env);
    if (!isThenable(outcome)) return this.finished(request, outcome);
    return outcome.then((o) => this.finished(request, o));
  }

  private finished(request: TaskRequest, outcome: Outcome): void {
    this.reporting.add(request);
    // Reported from a microtask queued now. For a task run alone that is after the microtask that
    // takes the AsyncLocalStorage's promise hooks off again (see pumpSoon), so the result write's
    // promises are made without them. Inside a pump that holds the storage for several tasks
    // (pump), the storage is still on here and the report runs with the hooks: queueing those
    // reports after the release was tried (bulk runs at concurrency 100, 2026-11-22) and moved
    // neither CPU nor allocation per task beyond the runs' noise.
    // Counted in reportingWork from this moment, so a shutdown waits for it.
    const reporting = RESOLVED.then(() => this.reporter.report(request, outcome));
    this.reportingWork.add(reporting, (failed, err) => {
      this.reporting.delete(request);
      if (failed) this.app.logger.error(`storing the result of task ${request.name}[${request.id}] failed`, { error: err });
      // Once for all the results of a batch that were settled together: the slots they free are
      // filled in one pump, not one pump (and one task) per result.
      this.pumpSoon();
    });
  }

  private abortActive(): void {
    for (const request of [...this.active, ...this.reporting]) {
      if (request.running) request.abort(new Error('worker cold shutdown'));
      // A late-ack task goes back to the queue so another worker runs it; early-ack ones are gone.
      if (request.acksLate && !request.settled) {
        request.givenBack = true;
        this.pending.add(request.reject(true));
      }
    }
  }

  private installSignalHandlers(): void {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const handler = () => {
        const cold = this.lifecycle.is('stopping');
        this.app.logger.warn(`${sig} received: ${cold ? 'cold' : 'warm'} shutdown`);
        void this.shutdown({ cold });
      };
      process.on(sig, handler);
      this.signalHandlers.push([sig, handler]);
    }
  }

  private removeSignalHandlers(): void {
    for (const [sig, handler] of this.signalHandlers) process.off(sig, handler);
    this.signalHandlers.length = 0;
  }
}

const RESOLVED = Promise.resolve();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
