/**
 * Celery's built-in canvas tasks, which a Python client's `map`, `starmap` and `chunks` send by
 * name, so a celeriac worker runs them as a Python worker does (celery/app/builtins.py):
 *
 * - `celery.map(task, it)`: the task's function called once per item, in this worker, in order;
 *   the result is the list of their results;
 * - `celery.starmap(task, it)`: the same with each item spread as the arguments;
 * - `celery.chunks(task, it, n)`: applies the `chunks` group (one starmap per part of n items).
 *
 * The named task must be registered on this worker (it is called in-process, not sent).
 */
import type { App } from '../app.js';
import { bindArguments } from '../params.js';
import { resolveTaskOptions } from '../task-options.js';
import { NotRegistered } from '../errors.js';
import { isThenable } from '../current-task.js';
import type { RegisteredTask } from '../task.js';
import type { TaskContext } from '../task-context.js';
import { chunksToGroup } from './primitives.js';
import { applySignature } from './send.js';
import { toSignature } from './signature.js';
import { GroupResult } from '../group-result.js';

/** The built-in tasks for `app`, by name. */
export function builtinTasks(app: App): ReadonlyMap<string, RegisteredTask> {
  const mapLike = (name: string, spread: boolean): RegisteredTask => ({
    name,
    options: resolveTaskOptions({ name, params: ['task', 'it'] }),
    invoke(ctx: TaskContext, [taskData, it]: readonly unknown[]): unknown {
      const target = toSignature(taskData, `${name}: "task"`);
      const task = app.tasks.get(target.task);
      if (!task) throw new NotRegistered(target.task);
      if (!Array.isArray(it)) throw new TypeError(`${name}: "it" must be a list, got ${JSON.stringify(it)}`);
      return runEach(task, ctx, it, spread);
    },
  });
  const chunks: RegisteredTask = {
    name: 'celery.chunks',
    options: resolveTaskOptions({ name: 'celery.chunks', params: ['task', 'it', 'n'] }),
    async invoke(ctx: TaskContext, [task, it, n]: readonly unknown[]): Promise<unknown> {
      const sig = { task: 'celery.chunks', args: [], kwargs: { task, it, n }, options: {}, subtask_type: null, immutable: true };
      const result = await applySignature(app, chunksToGroup(sig), {}, { parentId: ctx.id, rootId: ctx.rootId });
      // Celery stores the GroupResult, which its JSON encoder writes as its tuple.
      return result instanceof GroupResult ? result.asTuple() : result.id;
    },
  };
  return new Map([
    ['celery.map', mapLike('celery.map', false)],
    ['celery.starmap', mapLike('celery.starmap', true)],
    ['celery.chunks', chunks],
  ]);
}

/** Calls the task's function per item, one after another (awaiting each when it is async). */
function runEach(task: RegisteredTask, ctx: TaskContext, items: readonly unknown[], spread: boolean): unknown {
  const results: unknown[] = [];
  const call = (item: unknown) => {
    const args = spread ? (Array.isArray(item) ? item : [item]) : [item];
    return task.invoke(ctx, bindArguments(task.name, task.options.paramSpecs, args, {}));
  };
  for (let i = 0; i < items.length; i++) {
    const value = call(items[i]);
    if (isThenable(value)) {
      return (async () => {
        results.push(await value);
        for (let j = i + 1; j < items.length; j++) results.push(await call(items[j]));
        return results;
      })();
    }
    results.push(value);
  }
  return results;
}
