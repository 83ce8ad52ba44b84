/**
 * What the AMQP tests share: whether RabbitMQ is there (a skip with the reason outside CI, a
 * failure under CI), and a vhost of the test file's own (`rabbitmqctl add_vhost`, guest given
 * every permission), deleted with everything in it afterwards: tests never touch the shared `/`.
 *
 * CELERIAC_AMQP_URL points the tests at another server (default amqp://guest:guest@127.0.0.1:5672);
 * its vhost part is replaced by the test's own.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { connect } from 'amqplib';

const run = promisify(execFile);
export const AMQP_URL = process.env['CELERIAC_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672';

export async function amqpSkipReason(url = AMQP_URL): Promise<string | false> {
  try {
    const conn = await connect(url, { timeout: 3000 });
    await conn.close();
  } catch (err) {
    const reason = `RabbitMQ at ${url} is unreachable (${(err as Error).message})`;
    if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
    return `${reason}; start one (rabbitmq-server -detached) or set CELERIAC_AMQP_URL`;
  }
  try {
    await run('rabbitmqctl', ['list_vhosts']);
  } catch (err) {
    const reason = `rabbitmqctl cannot reach the RabbitMQ node (${(err as Error).message.split('\n')[0]}); the tests make a vhost of their own with it`;
    if (process.env['CI']) throw new Error(`${reason}; CI is set, so this is a failure, not a skip`);
    return reason;
  }
  return false;
}

/** A vhost of one test file's own. */
export class VhostScope {
  readonly vhost = `celeriac-test-${randomUUID()}`;
  private created = false;

  /** The URL of the vhost, with query options. */
  url(query = ''): string {
    const base = new URL(AMQP_URL);
    base.pathname = `/${encodeURIComponent(this.vhost)}`;
    return `${base.toString()}${query ? `?${query}` : ''}`;
  }

  async create(): Promise<void> {
    await run('rabbitmqctl', ['add_vhost', this.vhost]);
    this.created = true;
    const user = decodeURIComponent(new URL(AMQP_URL).username || 'guest');
    await run('rabbitmqctl', ['set_permissions', '-p', this.vhost, user, '.*', '.*', '.*']);
  }

  /**
   * The `columns` of `queue` in this vhost as `rabbitmqctl list_queues` shows them (e.g.
   * `consumers`, `messages`, `durable`), or undefined when there is no such queue.
   */
  async queueRow(queue: string, ...columns: string[]): Promise<string[] | undefined> {
    const { stdout } = await run('rabbitmqctl', ['list_queues', '-p', this.vhost, 'name', ...columns, '-q', '--no-table-headers']);
    return stdout.split('\n').map((line) => line.split('\t').map((cell) => cell.trim())).find(([name]) => name === queue)?.slice(1);
  }

  async cleanup(): Promise<void> {
    if (this.created) await run('rabbitmqctl', ['delete_vhost', this.vhost]);
    this.created = false;
  }
}
