/**
 * For a test file that talks to Redis through its own ioredis client: a private server and
 * one client for the whole file, or a loud skip where there is no redis-server and no REDIS_URL.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { redisServerAvailable, startRedis, type TestRedis } from '../../kit/redis-server.ts';

export interface FileRedis {
  /** False when the file's Redis tests must be skipped (say so with describe.skipIf). */
  available: boolean;
  /** The client, from beforeAll on. */
  client(): Redis;
}

/** `skipped` names the tests in the warning printed when there is no Redis to run them on. */
export function useFileRedis(skipped: string): FileRedis {
  const available = redisServerAvailable();
  if (!available) console.warn(`SKIPPED: ${skipped} (no redis-server and no REDIS_URL)`);
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    if (!available) return;
    server = await startRedis();
    client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return {
    available,
    client() {
      if (!client) throw new Error('the Redis client is made in beforeAll, and only where Redis is available');
      return client;
    },
  };
}
