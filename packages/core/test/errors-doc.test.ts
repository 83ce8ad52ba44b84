/** docs/errors.md lists every error code, with the class that carries it, and nothing else. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as core from '../src/index.js';

test('docs/errors.md and ErrorCodes agree', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(CELERIAC_E_[A-Z_]+)` \| `(\w+)` \|/gm)].map((m) => [m[1]!, m[2]!] as const);
  const documented = rows.map(([code]) => code).sort();
  assert.deepEqual(documented, Object.values(core.ErrorCodes).sort());
  for (const [code, className] of rows) {
    const ctor = (core as Record<string, unknown>)[className];
    assert.equal(typeof ctor, 'function', `${className} is exported from @celeriac/core`);
    assert.ok((ctor as { prototype: unknown }).prototype instanceof core.CeleriacError, `${className} extends CeleriacError`);
    const source = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8');
    const key = Object.entries(core.ErrorCodes).find(([, v]) => v === code)![0];
    const classBody = source.slice(source.indexOf(`class ${className} `));
    assert.match(classBody.slice(0, 600), new RegExp(`ErrorCodes\\.${key}\\b`), `${className} uses ${code}`);
  }
});
