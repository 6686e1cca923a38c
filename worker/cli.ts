/**
 * `tsx worker/cli.ts`: a worker process on its own (what `npm run worker` runs in a fleet).
 * Configuration comes from the environment only; a bad value stops start-up with one line.
 */
import { ConfigError, loadConfig, type Config } from '../src/config.ts';
import { RedisKeyValueStore } from '../src/kv-redis.ts';
import { createLogger } from '../src/logger.ts';
import { closeRedis, redisFromConfig } from '../src/redis.ts';
import { startWorker } from './main.ts';
import { platformDeliverers } from './platform-deliverers.ts';
import { superviseWorker } from './process-lifecycle.ts';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  if (!config.REDIS_URL) {
    console.error('Invalid configuration: REDIS_URL is required for a worker process (the one-process mode is `npm start`)');
    process.exit(1);
  }
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  const redis = redisFromConfig(config, { role: 'worker', name: 'worker', logger });
  const kv = RedisKeyValueStore.fromConfig(redis, config);
  const deliverers = await platformDeliverers(config, kv, logger);
  if (deliverers.length === 0) {
    console.error('Invalid configuration: DISCORD_TOKEN or SLACK_BOT_TOKEN must be set, or the worker has nowhere to deliver results');
    process.exit(1);
  }
  const handle = await startWorker(config, { deliverers, redis, kv, logger });
  await superviseWorker(handle, logger, { beforeExit: () => closeRedis(redis) });
}

main().catch((err: unknown) => {
  console.error(`worker failed to start: ${(err as Error)?.message ?? String(err)}`);
  process.exit(1);
});
