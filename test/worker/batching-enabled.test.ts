/** WORKER_BATCHING: auto batches on an accelerator only; on and off are obeyed. */
import { describe, expect, it } from 'vitest';
import { batchingEnabled } from '../../worker/main.ts';

describe('batchingEnabled', () => {
  it('auto batches on an accelerator and not on CPU; on/off are obeyed as set', () => {
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['cuda', 'cpu'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['tensorrt'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'auto', ORT_PROVIDERS: ['cpu'] })).toBe(false);
    expect(batchingEnabled({ WORKER_BATCHING: 'on', ORT_PROVIDERS: ['cpu'] })).toBe(true);
    expect(batchingEnabled({ WORKER_BATCHING: 'off', ORT_PROVIDERS: ['cuda'] })).toBe(false);
  });
});
