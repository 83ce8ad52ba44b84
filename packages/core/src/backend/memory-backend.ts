/**
 * The in-memory result backend: one process, nothing persisted; `watch()` wakes on every write.
 * URL: `memory://`. Saved groups and chord counting live in memory too (memory-groups-and-chords.ts).
 */
import { ClosedError } from '../errors.js';
import { States, type ResultMeta } from '../protocol/result-meta.js';
import { MemoryChordStore, MemoryGroupStore } from './memory-groups-and-chords.js';
import type { BackendCapabilities, ResultBackend, ResultWatch, SetResultOptions } from './result-backend.js';

interface Entry {
  json: string;
  expiresAt: number | null;
}

export class MemoryBackend implements ResultBackend {
  readonly capabilities: BackendCapabilities = { persistent: false, shared: false };
  readonly groups = new MemoryGroupStore();
  readonly chords = new MemoryChordStore();
  private readonly entries = new Map<string, Entry>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private closed = false;

  async connect(): Promise<void> {
    if (this.closed) throw new ClosedError('the memory backend');
  }

  async get(taskId: string): Promise<ResultMeta | null> {
    const entry = this.entries.get(taskId);
    if (!entry) return null;
    if (entry.expiresAt !== null && entry.expiresAt <= Date.now()) {
      this.entries.delete(taskId);
      return null;
    }
    // Stored as JSON so callers never share (or mutate) the stored object, as with a real store.
    return JSON.parse(entry.json) as ResultMeta;
  }

  async getMany(taskIds: readonly string[]): Promise<(ResultMeta | null)[]> {
    return Promise.all(taskIds.map((id) => this.get(id)));
  }

  async set(taskId: string, meta: ResultMeta, options: SetResultOptions = {}): Promise<void> {
    if (this.closed) throw new ClosedError('the memory backend');
    const current = await this.get(taskId);
    if (current?.status === States.SUCCESS) return;
    const expiresIn = options.expiresIn ?? null;
    this.entries.set(taskId, { json: JSON.stringify(meta), expiresAt: expiresIn === null ? null : Date.now() + expiresIn * 1000 });
    const listeners = this.watchers.get(taskId);
    if (listeners) for (const wake of [...listeners]) wake();
  }

  async delete(taskId: string): Promise<void> {
    this.entries.delete(taskId);
  }

  watch(taskId: string): ResultWatch {
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => {
      if (this.closed) return resolve();
      let set = this.watchers.get(taskId);
      if (!set) this.watchers.set(taskId, (set = new Set()));
      const listeners = set;
      wake = () => {
        listeners.delete(wake);
        if (listeners.size === 0 && this.watchers.get(taskId) === listeners) this.watchers.delete(taskId);
        resolve();
      };
      listeners.add(wake);
    });
    return { woken, stop: () => wake() };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.watchers.values()) for (const wake of [...set]) wake();
  }
}
