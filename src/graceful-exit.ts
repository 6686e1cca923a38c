/**
 * How every process ends, whatever its role. SIGTERM (a rolling deploy, a scale-in) and
 * SIGINT stop taking work, let the jobs in hand finish and be delivered, then exit 0, so
 * BullMQ never sees a stalled job from a planned stop. Work that ends by itself (a worker
 * retiring at WORKER_MAX_JOBS or WORKER_MAX_RSS_MB) exits 0 the same way, for its supervisor
 * to start a fresh process. A second signal while stopping exits 1 at once (the operator
 * insists; a job's lock expires and another worker picks it up).
 */
import type { Logger } from './logger.ts';

export interface StoppableProcess {
  /** Stop taking work, finish and deliver the jobs in hand, release connections; safe to call twice. */
  close(): Promise<void>;
  /** Settles when the work has ended, including by itself (`recycle`: a worker retiring). */
  readonly done: Promise<{ reason: string; detail?: unknown }>;
  /** The jobs in hand, for the stopping line. */
  activeJobIds(): readonly string[];
}

export function exitGracefully(running: StoppableProcess, logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): void {
  let signals = 0;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= running.close().then(() => {
    logger.flush();
    exit(0);
  }));
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal while stopping: exiting now');
      exit(1);
      return;
    }
    logger.info({ signal, active: running.activeJobIds() }, 'stopping: finishing the jobs in hand first');
    void stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void running.done.then((ended) => {
    if (stopping) return;
    if (ended.reason === 'recycle') logger.info({ detail: ended.detail }, 'worker retired; exiting for the supervisor to start a fresh process');
    void stop();
  });
}
