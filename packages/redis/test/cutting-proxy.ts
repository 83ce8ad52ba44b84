/**
 * A TCP proxy in front of a Redis server for tests of lost replies: it can hold back what the
 * server sends (the commands still reach it and run) and cut every connection at once.
 */
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './free-port.js';

export interface CuttingProxy {
  readonly port: number;
  /** While true, the server's bytes are dropped, not forwarded: replies are lost. */
  hold(on: boolean): void;
  /** Closes every connection through the proxy, both sides. */
  cutAll(): void;
  close(): Promise<void>;
}

export async function cuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const port = await freePort();
  const pairs = new Set<readonly [Socket, Socket]>();
  let holding = false;
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    const pair = [client, upstream] as const;
    pairs.add(pair);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (!holding) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    for (const socket of pair) {
      socket.on('close', end);
      socket.on('error', () => undefined);
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port,
    hold(on) {
      holding = on;
    },
    cutAll() {
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
