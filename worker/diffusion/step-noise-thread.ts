/**
 * The thread side of step-noise-prefetch.ts: draws each registered image's step noise from its
 * own seeded generator (the same stepGenerator the main thread would use, so the values are
 * the same), into that image's two shared slots, one draw ahead of what the denoise loop has
 * consumed. It sleeps on the shared wake counter when every stream is full or stopped.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SeededRandom } from './random.ts';
import { stepGenerator } from './noise.ts';
import { CTRL, SLOTS, type StreamMessage } from './step-noise-prefetch.ts';

interface Stream {
  generator: SeededRandom;
  ctrl: Int32Array;
  slots: Float32Array[];
  count: number;
}

const wake = new Int32Array(workerData.wake as SharedArrayBuffer);
const streams = new Set<Stream>();

parentPort!.on('message', (m: StreamMessage) => {
  const ctrl = new Int32Array(m.buffer, 0, CTRL.length);
  const slots = Array.from({ length: SLOTS }, (_, i) => new Float32Array(m.buffer, CTRL.length * 4 + i * m.count * 4, m.count));
  streams.add({ generator: stepGenerator(m.seed), ctrl, slots, count: m.count });
  // The loop may have gone to sleep before this arrived: wake it for the new stream.
  Atomics.add(wake, 0, 1);
  Atomics.notify(wake, 0);
});

/** Atomics.waitAsync (V8 has it; the ES2023 typings do not). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: Promise<string> | string } }).waitAsync;

/** Fills every stream as far as its free slots allow; true when something was drawn. */
function fill(): boolean {
  let drew = false;
  for (const s of streams) {
    if (Atomics.load(s.ctrl, CTRL.stopped)) {
      streams.delete(s);
      continue;
    }
    let produced = Atomics.load(s.ctrl, CTRL.produced);
    while (produced - Atomics.load(s.ctrl, CTRL.consumed) < SLOTS) {
      s.slots[produced % SLOTS].set(s.generator.normal(s.count));
      Atomics.store(s.ctrl, CTRL.produced, ++produced);
      Atomics.notify(s.ctrl, CTRL.produced);
      drew = true;
    }
  }
  return drew;
}

async function loop(): Promise<never> {
  Atomics.store(wake, 1, 1);
  for (;;) {
    const seen = Atomics.load(wake, 0);
    // Waiting asynchronously lets registrations (messages) in while nothing can be drawn.
    if (!fill()) await waitAsync(wake, 0, seen).value;
  }
}

void loop();
