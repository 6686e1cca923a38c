/**
 * The words every chat platform uses about a job, apart from its markup: what a derived job
 * is, how far it has got, and the parameters that make the same image again. Adapters wrap
 * them in their own formatting (Discord markdown, Slack mrkdwn).
 */
import type { ProgressUpdate } from '../src/delivery.ts';
import { describeEdit, type GenerationParams, type JobPayload, type JobResult } from '../src/jobs.ts';
import { seedsText, shownImages, type ShownImages } from './summary.ts';

/** "Strong variation of image 2", "Upscaled ×2 (image 1)", "Pan left of image 1"; null for a job made from a prompt alone. */
export function derivedJobText(payload: JobPayload): string | null {
  switch (payload.kind) {
    case 'variation':
      return `${payload.mode === 'subtle' ? 'Subtle' : 'Strong'} variation of image ${payload.source.index + 1}`;
    case 'upscale':
      return `Upscaled ×${payload.factor} (image ${payload.source.index + 1})`;
    case 'edit':
      return `${describeEdit(payload.edit)} of image ${payload.source.index + 1}`;
    default:
      return null;
  }
}

/** "12 s", "1 min 35 s": never "0 s", since the job has not finished. */
export function formatEta(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/**
 * About how long a job at `position` in line waits before it starts: the jobs ahead of it times
 * the measured average job (src/job-durations.ts); null before any job was measured, or once it runs.
 */
export function queuedEtaMs(position: number, averageMs: number | null): number | null {
  return position > 0 && averageMs !== null && averageMs > 0 ? position * averageMs : null;
}

/** "Queued — position 3 · starts in about 40 s", "Queued — position 3" without a measurement, "Starting…" at the front. */
export function queuedText(position: number, averageMs: number | null): string {
  if (position <= 0) return 'Starting…';
  const eta = queuedEtaMs(position, averageMs);
  return `Queued — position ${position}${eta !== null ? ` · starts in about ${formatEta(eta)}` : ''}`;
}

/** "Step 3/4 (75%) · about 12 s left". */
export function progressText(update: Pick<ProgressUpdate, 'step' | 'total' | 'etaMs'>): string {
  const pct = update.total > 0 ? Math.round((100 * update.step) / update.total) : 0;
  const eta = update.etaMs !== null && update.etaMs > 0 ? ` · about ${formatEta(update.etaMs)} left` : '';
  return `Step ${update.step}/${update.total} (${pct}%)${eta}`;
}

/**
 * The generation parameters a user needs to repeat an image, as code spans (the same markup
 * on Discord and Slack): `seed 7` · `euler_a` · `20 steps` · `cfg 7` · `512x512` · `model`.
 * `shown` is the size and seeds to name (a job's own before it runs; see resultParameterLine).
 * `showModel` escapes the one value that comes from configuration, where a platform needs it.
 */
export function parameterLine(
  params: GenerationParams,
  shown: ShownImages = { width: params.width, height: params.height, seeds: [params.seed] },
  showModel: (model: string) => string = (m) => m,
): string {
  return [seedsText(shown.seeds), params.sampler, `${params.steps} steps`, `cfg ${params.guidance}`, `${shown.width}x${shown.height}`, showModel(params.model)]
    .map((p) => `\`${p}\``)
    .join(' · ');
}

/** A finished result's line: the size and seeds of the images it holds (an upscale of 64x64 says 128x128), as the web's summary does. */
export function resultParameterLine(result: Pick<JobResult, 'params' | 'images'>, showModel?: (model: string) => string): string {
  return parameterLine(result.params, shownImages(result.images), showModel);
}
