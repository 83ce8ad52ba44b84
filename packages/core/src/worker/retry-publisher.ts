/**
 * A retry is a new message, as in Celery: the same id, args, kwargs and embed, `retries + 1`, an
 * `eta`, `parent_id` set to the task itself, sent to the queue it came from with its priority.
 */
import { encodeForSend, type App } from '../app.js';
import type { Retry } from '../errors.js';
import { buildTaskMessage } from '../protocol/task-message.js';
import type { TaskRequest } from './request.js';

export async function publishRetry(app: App, request: TaskRequest, retry: Retry): Promise<void> {
  const { message, delivery } = request;
  const h = message.headers;
  // buildTaskMessage keeps only the non-standard headers from this: the user's own ones.
  const { redelivered: _redelivered, ...userHeaders } = h;
  const next = buildTaskMessage({
    task: h.task,
    id: h.id,
    args: message.args,
    kwargs: message.kwargs,
    eta: retry.eta,
    expires: message.expires,
    retries: h.retries + 1,
    timelimit: h.timelimit,
    rootId: h.root_id,
    parentId: h.parent_id ?? h.id,
    group: h.group,
    groupIndex: h.group_index,
    shadow: h.shadow,
    origin: app.origin,
    replyTo: message.properties.reply_to || app.oid,
    ignoreResult: h.ignore_result,
    priority: delivery.priority || (message.properties.priority ?? null),
    headers: userHeaders,
    embed: message.embed,
    now: new Date(),
  });
  await app.broker.publish(encodeForSend(next), { queue: delivery.queue, priority: delivery.priority, notBefore: retry.eta });
}
