/**
 * The RabbitMQ server of the bench's AMQP rows: whether it is reachable, its version, and a vhost
 * of each row's own (`rabbitmqctl add_vhost`, deleted with everything in it afterwards), so every
 * row starts from empty queues and leaves nothing behind on the shared server.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

const run = promisify(execFile);

export interface AmqpServer {
  /** amqp://user:password@host:port (no vhost). */
  readonly url: string;
  readonly version: string;
}

/** The server at `url`, or why it cannot be used (unreachable, no rabbitmqctl to make vhosts). */
export async function probeAmqp(url: string): Promise<AmqpServer | { error: string }> {
  try {
    const conn = await connect(url, { timeout: 3000 });
    const version = String(conn.connection.serverProperties.version ?? 'unknown');
    await conn.close();
    await run('rabbitmqctl', ['list_vhosts']);
    return { url, version };
  } catch (err) {
    return { error: `RabbitMQ at ${url} or rabbitmqctl is not usable (${(err as Error).message.split('\n')[0]})` };
  }
}

/** Runs `fn` with the URL of a fresh vhost, deleted afterwards. */
export async function withVhost<T>(server: AmqpServer, label: string, fn: (url: string) => Promise<T>): Promise<T> {
  const vhost = `celeriac-bench-${label}-${randomUUID().slice(0, 8)}`;
  await run('rabbitmqctl', ['add_vhost', vhost]);
  try {
    const user = decodeURIComponent(new URL(server.url).username || 'guest');
    await run('rabbitmqctl', ['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
    const url = new URL(server.url);
    url.pathname = `/${encodeURIComponent(vhost)}`;
    return await fn(url.toString());
  } finally {
    await run('rabbitmqctl', ['delete_vhost', vhost]);
  }
}
