/**
 * How many jobs a consumer holds: what the pipeline can start (its base concurrency) plus the
 * jobs that left the pipeline and are only being stored. A slot freed by the pipeline is
 * refilled at once, and the worker never holds a job its pipeline could not start soon, so an
 * idle worker in the fleet is not starved. Shared by the BullMQ and the in-process consumer;
 * each applies the number to its own queue.
 */
export class FinishingSlots {
  private finishing = 0;

  constructor(
    private readonly base: number,
    /** Applies the new number; `raised` says it went up (a queue may need waking to take more). */
    private readonly apply: (concurrency: number, raised: boolean) => void,
  ) {}

  /** Jobs the consumer may hold now. */
  get concurrency(): number {
    return this.base + this.finishing;
  }

  /** A job started storing; the returned function ends that phase (once, whatever calls it). */
  begin(): () => void {
    this.finishing++;
    this.apply(this.concurrency, true);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.finishing--;
      this.apply(this.concurrency, false);
    };
  }
}
