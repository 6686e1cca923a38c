/**
 * A bot-side delivery process for fault tests: the real delivery side (delivery queue,
 * progress channel, ledger, retry) with a recording deliverer that appends to the file the
 * test reads, and short queue lock timings so a killed one's task moves on in seconds.
 * Settings come from TEST_* variables; prints `{"ready":true,"pid":N}` once it consumes.
 */
import { FsArtifactStore } from '../../src/artifacts-fs.ts';
import { loadConfig } from '../../src/root/config.ts';
import { startDeliverySide } from '../../src/delivery-side.ts';
import { RedisKeyValueStore } from '../../src/kv-redis.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { closeRedis, redisFromConfig } from '../../src/redis.ts';
import { RecordingDeliverer } from './recording-deliverer.ts';

const env = process.env;
const num = (name: string) => (env[name] ? Number(env[name]) : undefined);
const config = loadConfig();
const logger = createLogger({ name: 'delivery-child', level: config.LOG_LEVEL });
const redis = redisFromConfig(config, { role: 'client', name: 'delivery-child', logger });
const kv = RedisKeyValueStore.fromConfig(redis, config);
const deliverer = new RecordingDeliverer({ file: env.TEST_DELIVERY_FILE, resultDelayMs: num('TEST_RESULT_DELAY_MS'), resultReturnDelayMs: num('TEST_RESULT_RETURN_DELAY_MS') });
const side = await startDeliverySide({
  config,
  deliverers: [deliverer],
  kv,
  artifacts: new FsArtifactStore(config.ARTIFACT_DIR),
  metrics: createMetrics(),
  logger,
  redis,
  lockDurationMs: num('TEST_LOCK_MS'),
  stalledIntervalMs: num('TEST_STALLED_MS'),
});
process.stdout.write(JSON.stringify({ ready: true, pid: process.pid }) + '\n');
process.once('SIGTERM', () => {
  void side.close().then(() => closeRedis(redis)).then(() => process.exit(0));
});
