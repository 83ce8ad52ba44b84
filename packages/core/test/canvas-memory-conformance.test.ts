/** The canvas conformance suite on the in-memory broker and backend (chords counted in memory). */
import { App, MemoryBackend, MemoryBroker, silentLogger } from '@celeriac/core';
import { canvasConformance } from '@celeriac/testing';

canvasConformance('memory', { createApp: () => new App({ broker: new MemoryBroker(), backend: new MemoryBackend(), logger: silentLogger }) });
