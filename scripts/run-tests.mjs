#!/usr/bin/env node
// Runs every *.test.ts under packages/, examples/ and bench/ with node's own test runner, loading
// TypeScript through tsx and resolving workspace packages to their sources ("development" condition),
// so a test never runs against a stale build. Node 20's runner takes no globs, hence this file.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const roots = ['packages', 'examples', 'bench'];
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts')) files.push(path);
  }
}
for (const root of roots) walk(root);
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
selected.sort();
const result = spawnSync(
  process.execPath,
  ['--conditions=development', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=180000', ...selected],
  { stdio: 'inherit', env: { ...process.env, CELERIAC_TEST: '1' } },
);
process.exit(result.status ?? 1);
