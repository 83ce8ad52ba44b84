/**
 * The broker and result backend conformance suites on SQLite. Every instance opens the same file,
 * so the "second instance" tests exercise what another process would see.
 */
import { join } from 'node:path';
import { backendConformance, brokerConformance } from '@celeriac/testing';
import { silentLogger } from '@celeriac/core';
import { SqliteBackend, SqliteBroker } from '@celeriac/sqlite';
import { tempDir } from './temp-db.js';

const path = join(tempDir('conformance'), 'conformance.db');

brokerConformance('sqlite', { create: async () => new SqliteBroker({ path, logger: silentLogger }) });
backendConformance('sqlite', { create: async () => new SqliteBackend({ path, logger: silentLogger }) });
