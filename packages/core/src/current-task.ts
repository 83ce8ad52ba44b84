/**
 * Which task is running in this async context, so a task that sends another one sets `parent_id`
 * and `root_id` on it without being told (Celery does the same from its request stack).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface CurrentTask {
  readonly id: string;
  readonly rootId: string;
}

export const currentTask = new AsyncLocalStorage<CurrentTask>();
