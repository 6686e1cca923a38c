/**
 * A worker process for fault tests: the real startWorker and the real process lifecycle
 * (signals, recycle, exit codes), with a recording deliverer writing to a file the test
 * reads, a tiny model, and short queue timings. Settings come from TEST_* variables; the
 * rest of the environment is the worker's ordinary configuration.
 *
 * Prints one JSON line `{"ready":true,"port":N,"pid":N}` once it takes jobs.
 */
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog } from '../../src/models.ts';
import { startWorker } from '../../worker/main.ts';
import { superviseWorker } from '../../worker/process-lifecycle.ts';
import { RecordingDeliverer } from './recording-deliverer.ts';
import { pipelineLoader, tinyModelInfo } from './worker-fixtures.ts';

const env = process.env;
const num = (name: string) => (env[name] ? Number(env[name]) : undefined);

const config = loadConfig();
const logger = createLogger({ name: 'worker-child', level: config.LOG_LEVEL });
const dir = env.TEST_MODEL_DIR!;
const catalog = createModelCatalog([tinyModelInfo(dir)]);
const deliverer = new RecordingDeliverer({ file: env.TEST_DELIVERY_FILE, resultDelayMs: num('TEST_RESULT_DELAY_MS'), resultReturnDelayMs: num('TEST_RESULT_RETURN_DELAY_MS') });

const handle = await startWorker(config, {
  deliverers: [deliverer],
  logger,
  catalog,
  loadPipeline: pipelineLoader({ crashPrompt: env.TEST_CRASH_PROMPT, atStep: num('TEST_CRASH_STEP') }),
  lockDurationMs: num('TEST_LOCK_MS'),
  stalledIntervalMs: num('TEST_STALLED_MS'),
  deliveryLockMs: num('TEST_LOCK_MS'),
  deliveryStalledMs: num('TEST_STALLED_MS'),
});
await handle.residency.get('tiny').catch(() => undefined);
process.stdout.write(JSON.stringify({ ready: true, port: handle.http?.port ?? null, pid: process.pid }) + '\n');
await superviseWorker(handle, logger);
