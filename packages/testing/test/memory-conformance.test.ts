/**
 * The conformance suites against core's in-memory broker and backend: the reference adapters, and
 * the check that the suites themselves pass on a correct implementation.
 */
import { MemoryBackend, MemoryBroker } from '@celeriac/core';
import { backendConformance, brokerConformance } from '@celeriac/testing';

brokerConformance('memory', { create: async () => new MemoryBroker() });
backendConformance('memory', { create: async () => new MemoryBackend() });
