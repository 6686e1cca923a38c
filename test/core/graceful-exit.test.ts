/**
 * src/graceful-exit.ts, the one way every process ends, driven by real signal events on this
 * process (process.emit, so no signal reaches the test runner) with the exit recorded instead
 * of taken. The processes themselves are stopped for real in test/worker/faults.test.ts and test/e2e/main-startup.test.ts.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { exitGracefully, type StoppableProcess } from '../../src/graceful-exit.ts';
import { createLogger } from '../../src/logger.ts';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const listenersBefore = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
afterEach(() => {
  for (const s of SIGNALS) for (const l of process.listeners(s)) if (!listenersBefore.get(s)!.includes(l)) process.off(s, l);
});

function harness() {
  const lines: { msg: string; signal?: string; active?: string[]; detail?: unknown }[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ name: 'graceful-exit-test', level: 'info', destination });
  const exits: number[] = [];
  let closes = 0;
  let finishClose!: () => void;
  let end!: (ended: { reason: string; detail?: unknown }) => void;
  const running: StoppableProcess = {
    close: () => {
      closes++;
      return new Promise<void>((r) => (finishClose = r));
    },
    done: new Promise((r) => (end = r)),
    activeJobIds: () => ['job-1'],
  };
  exitGracefully(running, logger, (code) => exits.push(code));
  return { lines, exits, closes: () => closes, finishClose: () => finishClose(), end: (e: { reason: string; detail?: unknown }) => end(e) };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('exitGracefully', () => {
  it('a signal stops taking work and exits 0 only once the jobs in hand are done', async () => {
    const h = harness();
    process.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(h.closes()).toBe(1);
    expect(h.exits).toEqual([]);
    h.finishClose();
    await settle();
    expect(h.exits).toEqual([0]);
    expect(h.lines.map((l) => [l.msg, l.signal, l.active])).toEqual([['stopping: finishing the jobs in hand first', 'SIGTERM', ['job-1']]]);
  });

  it('a second signal while stopping exits 1 at once', async () => {
    const h = harness();
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(h.exits).toEqual([1]);
    expect(h.closes()).toBe(1);
    expect(h.lines.map((l) => l.msg)).toEqual(['stopping: finishing the jobs in hand first', 'second signal while stopping: exiting now']);
  });

  it('work that retires itself exits 0 the same way, saying why', async () => {
    const h = harness();
    h.end({ reason: 'recycle', detail: 'max jobs 3' });
    await settle();
    expect(h.closes()).toBe(1);
    h.finishClose();
    await settle();
    expect(h.exits).toEqual([0]);
    expect(h.lines.map((l) => [l.msg, l.detail])).toEqual([['worker retired; exiting for the supervisor to start a fresh process', 'max jobs 3']]);
  });

  it('work that ends while a signal stops it is stopped once, as the signal said', async () => {
    const h = harness();
    process.emit('SIGTERM', 'SIGTERM');
    h.end({ reason: 'recycle', detail: 'max jobs 3' });
    await settle();
    h.finishClose();
    await settle();
    expect(h.closes()).toBe(1);
    expect(h.exits).toEqual([0]);
    expect(h.lines.map((l) => l.msg)).toEqual(['stopping: finishing the jobs in hand first']);
  });
});
