/**
 * The app a command works with. The worker needs the user's app module (`-A`); the client commands
 * (call, result, purge, dead-letters) can also work from URLs alone:
 * `-b/--broker` and `--backend`, else env CELERIAC_BROKER_URL / CELERIAC_RESULT_BACKEND, else
 * `sqlite:///celeriac.db`.
 */
import { App, type Logger } from '@celeriac/core';
import { loadApp } from './load-app.js';

export interface ConnectionOptions {
  /** App module path (`-A`). */
  app?: string;
  /** Broker URL (`-b`). */
  broker?: string;
  /** Result backend URL (`--backend`). */
  backend?: string;
}

/** Common help texts, so every command words them alike. */
export const CONNECTION_HELP = {
  app: 'app module exporting `app` or a default App (.ts loads without a build)',
  broker: 'broker URL (default: env CELERIAC_BROKER_URL, else sqlite:///celeriac.db)',
  backend: 'result backend URL (default: env CELERIAC_RESULT_BACKEND, else the broker URL)',
} as const;

/**
 * Loads the app module with the URL overrides applied, or builds an app from the URLs; connected.
 *
 * With `-A`, the overrides reach the module through the environment variables App reads, so they
 * apply when the module leaves `broker`/`backend` to their defaults (core has no way to re-point an
 * App constructed with an explicit URL).
 */
export async function openApp(options: ConnectionOptions, logger: Logger): Promise<App> {
  let app: App;
  if (options.app !== undefined) {
    applyUrlOverrides(options);
    app = await loadApp(options.app);
    useLogger(app, logger);
  } else {
    app = new App({
      ...(options.broker !== undefined ? { broker: options.broker } : {}),
      ...(options.backend !== undefined ? { backend: options.backend } : {}),
      logger,
    });
  }
  try {
    await app.connect();
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}

export function applyUrlOverrides(options: ConnectionOptions): void {
  if (options.broker !== undefined) process.env['CELERIAC_BROKER_URL'] = options.broker;
  if (options.backend !== undefined) process.env['CELERIAC_RESULT_BACKEND'] = options.backend;
}

/**
 * Points a loaded app's logging at the CLI's logger (level from `-l`), before it connects: adapters
 * and the worker take the logger when they are created.
 */
export function useLogger(app: App, logger: Logger): void {
  app.setLogger(logger);
}
