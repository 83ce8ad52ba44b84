/**
 * Wake-ups when a celeriac SQLite file changes, without a server.
 *
 * - In this process, a writer calls `notify()` after its commit and every listener on the same file
 *   wakes (any broker or backend instance).
 * - Across processes, one `fs.watch` (inotify on Linux) per file watches the `-wal` file, which
 *   every commit in WAL mode appends to. It fires for this process's own commits too; listeners
 *   treat a wake-up as "look again", never as proof of a change.
 *
 * File watching is best-effort (some network and container file systems never report changes), so
 * every listener also polls; a wake-up only makes it look sooner. Listeners are called at most once
 * per turn of the event loop however many changes arrived. One signal exists per file and process,
 * counted by reference; the watcher is closed when the last user releases it, and it never keeps
 * the process alive.
 */
import { watch, type FSWatcher } from 'node:fs';

type Listener = () => void;

export class ChangeSignal {
  private static readonly byPath = new Map<string, ChangeSignal>();

  /** The signal for the database at `path` (an absolute path); `release()` it when done. */
  static acquire(path: string): ChangeSignal {
    let signal = ChangeSignal.byPath.get(path);
    if (!signal) {
      signal = new ChangeSignal(path);
      ChangeSignal.byPath.set(path, signal);
    }
    signal.users++;
    return signal;
  }

  private users = 0;
  private readonly listeners = new Set<Listener>();
  private watcher: FSWatcher | null = null;
  private scheduled: NodeJS.Immediate | null = null;

  private constructor(private readonly path: string) {}

  /** Calls `listener` on every (coalesced) change; returns the function that stops it. */
  listen(listener: Listener): () => void {
    this.listeners.add(listener);
    this.startWatching();
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Wakes the listeners on this file in this process (after a local commit). */
  notify(): void {
    if (this.scheduled || this.listeners.size === 0) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = null;
      for (const listener of [...this.listeners]) listener();
    });
    this.scheduled.unref();
  }

  release(): void {
    if (--this.users > 0) return;
    ChangeSignal.byPath.delete(this.path);
    this.listeners.clear();
    this.watcher?.close();
    this.watcher = null;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = null;
  }

  private startWatching(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(`${this.path}-wal`, { persistent: false }, () => this.notify());
      this.watcher.on('error', () => {
        // The file went away (the last connection elsewhere checkpointed and removed it) or the
        // file system stopped reporting; polling carries on, and the next listen() tries again.
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null; // no -wal file yet, or no watching here: polling only
    }
  }
}
