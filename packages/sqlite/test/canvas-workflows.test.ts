/**
 * Workflows on the embedded default (SQLite broker and backend, one database file) with a
 * celeriac worker: the canvas conformance suite, chords counted in the database.
 */
import { join } from 'node:path';
import { App, silentLogger } from '@celeriac/core';
import { canvasConformance } from '@celeriac/testing';
import { tempDir } from './temp-db.js';

const url = `sqlite:///${join(tempDir('canvas'), 'canvas.db')}`;
canvasConformance('sqlite', { createApp: () => new App({ broker: url, logger: silentLogger }) });
