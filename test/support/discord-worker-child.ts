/**
 * A worker process that delivers to Discord, for end-to-end tests: configured entirely from
 * the environment (REDIS_URL, QUEUE_PREFIX, DISCORD_*, MODEL_DIR / MODELS_CONFIG...) exactly
 * as `npm run worker` is, with the real Discord deliverer. Prints "worker ready" once it
 * consumes, exits 0 after SIGTERM once the jobs in hand are delivered.
 */
import { createDiscordDeliverer } from '../../adapters/discord/deliver.ts';
import { loadConfig } from '../../src/config.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { redisFromConfig } from '../../src/redis.ts';
import { startWorker } from '../../worker/main.ts';

const config = loadConfig();
const redis = redisFromConfig(config, { role: 'worker', name: 'discord-test-worker' });
const kv = RedisKeyValueStore.fromConfig(redis, config);
const worker = await startWorker(config, { deliverers: [createDiscordDeliverer(config, kv)], redis, kv, http: false });
process.once('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
void worker.done.then(() => process.exit(0));
console.log('worker ready');
