/**
 * The result backend conformance suite on the memory backend, chords and groups included. Each
 * instance is its own store (capabilities.shared is false), so the cases that need a second
 * instance to see the first one's writes skip themselves.
 */
import { MemoryBackend } from '@celeriac/core';
import { backendConformance } from '@celeriac/testing';

backendConformance('memory', { create: async () => new MemoryBackend() });
