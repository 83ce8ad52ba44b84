/** What the BullMQ producer and worker agree on: the job name and the no-op processor. */

/** Job name, as Celery's task name (BullMQ routes by queue, not by name). */
export const JOB_NAME = 'bench.noop';

/** Does nothing and returns nothing; BullMQ stores the (empty) return value in the job hash. */
export async function noop(): Promise<void> {}
