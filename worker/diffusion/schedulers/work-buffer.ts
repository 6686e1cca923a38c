/**
 * Schedulers step in place and keep their estimates in buffers they own, reused from step to
 * step: a step runs between two UNet calls, and a latent-sized allocation there costs the
 * allocation and, through V8's external-memory accounting, garbage collections on the
 * device's critical path.
 */
export function workBuffer(buffer: Float32Array | null | undefined, length: number): Float32Array {
  return buffer && buffer.length === length ? buffer : new Float32Array(length);
}

/**
 * prediction_type as a small integer (0 epsilon, 1 v_prediction, 2 sample), read once per step
 * so the per-value loops branch on a number instead of comparing strings.
 */
export type Prediction = 0 | 1 | 2;

export function predictionKind(type: 'epsilon' | 'v_prediction' | 'sample'): Prediction {
  return type === 'epsilon' ? 0 : type === 'v_prediction' ? 1 : 2;
}
