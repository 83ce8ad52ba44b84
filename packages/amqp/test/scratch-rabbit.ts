/**
 * A throwaway RabbitMQ node beside the shared one, for tests that stop and start their broker
 * (shared/TESTING-NOTES.md): its own node name, ports, config, mnesia and log directories (owned
 * by the `rabbitmq` user, which rabbitmq-server drops to), started with `rabbitmq-server -detached`
 * and stopped by the PID in its pid file. The mnesia directory is kept across a stop and a start,
 * so durable queues and persistent messages survive; `destroy()` stops it and removes it all.
 * With `tls`, it listens for TLS only (amqps), with the given certificate, and `url` says amqps.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { alive } from '../../redis/test/broker-fixture.js';
import { freePort } from '../../redis/test/free-port.js';
import type { TestCertificates } from '../../redis/test/test-certs.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ScratchRabbit {
  private constructor(
    readonly dir: string,
    readonly node: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly tls: boolean,
  ) {}

  /** Starts a node, or says why it cannot (no rabbitmq-server, not root). */
  static async start(options: { tls?: TestCertificates } = {}): Promise<ScratchRabbit | string> {
    try {
      execFileSync('sh', ['-c', 'command -v rabbitmq-server && id -u rabbitmq'], { stdio: 'ignore' });
    } catch {
      return 'rabbitmq-server (and its rabbitmq user) is not installed: apt-get install -y rabbitmq-server';
    }
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-rabbit-'));
    const [port, distPort] = [await freePort(), await freePort()];
    mkdirSync(join(dir, 'log'));
    mkdirSync(join(dir, 'mnesia'));
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    const conf = options.tls
      ? [
          'listeners.tcp = none',
          `listeners.ssl.default = 127.0.0.1:${port}`,
          ...(['cacertfile', 'certfile', 'keyfile'] as const).map((key, i) => {
            const source = [options.tls!.caFile, options.tls!.certFile, options.tls!.keyFile][i]!;
            const copy = join(dir, `tls-${key}.pem`);
            copyFileSync(source, copy);
            return `ssl_options.${key} = ${copy}`;
          }),
          'ssl_options.verify = verify_none',
          'ssl_options.fail_if_no_peer_cert = false',
        ]
      : [`listeners.tcp.local = 127.0.0.1:${port}`];
    writeFileSync(join(dir, 'rabbitmq.conf'), `${conf.join('\n')}\n`);
    execFileSync('chown', ['-R', 'rabbitmq:rabbitmq', dir]);
    const node = `celeriac-${port}@${hostname().split('.')[0]}`;
    const env = {
      ...process.env,
      RABBITMQ_NODENAME: node,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: join(dir, 'pid'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    };
    const rabbit = new ScratchRabbit(dir, node, port, env, options.tls !== undefined);
    await rabbit.boot();
    return rabbit;
  }

  get url(): string {
    return `${this.tls ? 'amqps' : 'amqp'}://guest:guest@localhost:${this.port}/`;
  }

  /** Runs `rabbitmqctl <args>` against this node; its output. */
  async ctl(...args: string[]): Promise<string> {
    return (await run('rabbitmqctl', ['-n', this.node, ...args], { env: this.env, timeout: 60_000 })).stdout;
  }

  /** Starts the node (again) and waits until it takes connections. */
  async boot(): Promise<void> {
    await run('rabbitmq-server', ['-detached'], { env: this.env });
    for (let i = 0; i < 240; i++) {
      if (await portOpen(this.port)) {
        await run('rabbitmqctl', ['-n', this.node, 'await_startup'], { env: this.env, timeout: 60_000 });
        return;
      }
      await sleep(250);
    }
    throw new Error(`scratch RabbitMQ ${this.node} did not open port ${this.port}; log dir ${join(this.dir, 'log')}`);
  }

  /** Stops the node by its PID (SIGTERM: a clean shutdown) and waits until the port is closed. */
  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 240; i++) {
      if (!alive(pid) && !(await portOpen(this.port))) return;
      await sleep(250);
    }
    process.kill(pid, 'SIGKILL');
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pid(): number | null {
    const file = join(this.dir, 'pid');
    if (!existsSync(file)) return null;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
