/**
 * Loading the user's app module (`-A path/to/app.ts`). TypeScript modules load without a build step:
 * tsx's loader is registered programmatically before the import. The module exports its App as
 * `app` or as its default export.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, CeleriacError, ConfigError } from '@celeriac/core';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** Loader hooks are process-wide, so registering them is once per process, like this flag. */
let typescriptRegistered = false;

export async function loadApp(modulePath: string, cwd: string = process.cwd()): Promise<App> {
  const file = resolve(cwd, modulePath);
  if (!existsSync(file)) throw new ConfigError(`option -A/--app: no file ${JSON.stringify(modulePath)} (looked for ${file})`);
  if (TYPESCRIPT.has(extname(file))) await registerTypeScript();
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (cause) {
    // A celeriac error thrown while the module runs (a bad task option, say) is already clear.
    if (cause instanceof CeleriacError) throw cause;
    throw new ConfigError(`could not load the app module ${modulePath}: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
  // A module tsx loads as CommonJS arrives with its exports under `default`.
  const nested = mod['default'] as Record<string, unknown> | undefined;
  const app = [mod['app'], mod['default'], nested?.['app']].find(isApp);
  if (!app) {
    const names = Object.keys(mod).join(', ') || 'nothing';
    throw new ConfigError(`the app module ${modulePath} must export an App instance as "app" or as its default export; it exports: ${names}`);
  }
  return app;
}

/**
 * Also accepts an App from another copy of @celeriac/core (a module that resolved its own), which
 * works as long as the copies agree, rather than failing on `instanceof` alone.
 */
function isApp(value: unknown): value is App {
  if (value instanceof App) return true;
  const v = value as Partial<App> | null | undefined;
  return typeof v === 'object' && v !== null && v.tasks instanceof Map && typeof v.connect === 'function' && typeof v.sendTask === 'function';
}

/** Registers tsx for ESM and CommonJS (a `.ts` file outside a `"type": "module"` package is CommonJS). */
async function registerTypeScript(): Promise<void> {
  if (typescriptRegistered) return;
  typescriptRegistered = true;
  const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
  esm.register();
  cjs.register();
}
