/**
 * How a worker process ends. SIGTERM (a rolling deploy, a scale-in) and SIGINT stop taking
 * jobs, let the jobs in hand finish and be delivered, and exit 0 — so BullMQ never sees a
 * stalled job from a planned stop. A recycle (the policy's job or memory bound) ends the
 * same way. A second signal while draining exits at once (the operator insists; the job's
 * lock expires and another worker picks it up).
 */
import type { Logger } from '../src/logger.ts';
import type { WorkerExit, WorkerHandle } from './main.ts';

export interface LifecycleOptions {
  /** Runs after the worker stopped and before exit (close connections the caller owns). */
  beforeExit?(exit: WorkerExit): Promise<void>;
  exit?(code: number): void;
}

export function superviseWorker(handle: WorkerHandle, logger: Logger, opts: LifecycleOptions = {}): Promise<WorkerExit> {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal while draining: exiting now');
      exit(1);
      return;
    }
    logger.info({ signal, active: handle.consumer.activeJobIds }, 'stopping: finishing the jobs in hand first');
    void handle.close();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return handle.done.then(async (result) => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await opts.beforeExit?.(result).catch((err: unknown) => logger.warn({ err }, 'cleanup before exit failed'));
    logger.flush();
    exit(0);
    return result;
  });
}
