/**
 * The result backend conformance suite on the shared Redis, under a key prefix of this file's own.
 * Every instance points at the same db and prefix, so the "another instance" tests see what
 * another process would.
 */
import { after } from 'node:test';
import { BACKEND_TEST_NAMES, backendConformance } from '@celeriac/testing';
import { silentLogger } from '@celeriac/core';
import { RedisBackend } from '@celeriac/redis';
import { deletePrefixed, rawClient, REDIS_URL, redisSkipReason, uniquePrefix, withPrefix } from './backend-fixture.js';

const skip = await redisSkipReason();
const prefix = uniquePrefix('backend-conformance');
const url = withPrefix(REDIS_URL, prefix);

if (skip) {
  backendConformance('redis', {
    create: async () => new RedisBackend({ url, logger: silentLogger }),
    skip: Object.fromEntries(BACKEND_TEST_NAMES.map((name) => [name, skip])),
  });
} else {
  backendConformance('redis', { create: async () => new RedisBackend({ url, logger: silentLogger }) });
  after(async () => {
    const client = rawClient();
    await deletePrefixed(client, prefix);
    client.disconnect();
  });
}
