/**
 * A worker process for fault tests: the real startWorker and the real process lifecycle
 * (signals, recycle, exit codes), with a recording deliverer writing to a file the test
 * reads (or, with TEST_DELIVERY=off, none: a fleet worker whose results a separate
 * delivery-child.ts posts), a tiny model, and short queue timings. TEST_DIE_AT_HANDOVER=1
 * kills the process once a result is stored, just before its delivery task is handed over. Settings come from TEST_* variables; the
 * rest of the environment is the worker's ordinary configuration.
 *
 * Prints one JSON line `{"ready":true,"port":N,"pid":N}` once it takes jobs.
 */
import { loadConfig } from '../../src/root/config.ts';
import type { DeliveryOutbox } from '../../src/delivery-tasks.ts';
import { exitGracefully } from '../../src/graceful-exit.ts';
import { createLogger } from '../../src/logger.ts';
import { createModelCatalog } from '../../src/models.ts';
import { startWorker } from '../../worker/main.ts';
import { RecordingDeliverer } from './recording-deliverer.ts';
import { pipelineLoader, tinyModelInfo } from '../../kit/worker-fixtures.ts';

const env = process.env;
const num = (name: string) => (env[name] ? Number(env[name]) : undefined);

const config = loadConfig();
const logger = createLogger({ name: 'worker-child', level: config.LOG_LEVEL });
const dir = env.TEST_MODEL_DIR!;
const catalog = createModelCatalog([tinyModelInfo(dir)]);
const deliverer = new RecordingDeliverer({ file: env.TEST_DELIVERY_FILE, resultDelayMs: num('TEST_RESULT_DELAY_MS'), resultReturnDelayMs: num('TEST_RESULT_RETURN_DELAY_MS') });

const handle = await startWorker(config, {
  ...(env.TEST_DELIVERY === 'off' ? {} : { deliverers: [deliverer] }),
  ...(env.TEST_DIE_AT_HANDOVER === '1'
    ? {
        wrapOutbox: (outbox: DeliveryOutbox): DeliveryOutbox => ({
          enqueue: async (task) => {
            if (task.outcome === 'result') process.kill(process.pid, 'SIGKILL');
            await outbox.enqueue(task);
          },
          progress: (notice) => outbox.progress(notice),
        }),
      }
    : {}),
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
exitGracefully({ close: () => handle.close(), done: handle.done, activeJobIds: () => handle.consumer.activeJobIds }, logger);
