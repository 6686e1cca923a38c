// Public API of the diffusion module (see ARCHITECTURE.md, "worker/diffusion/").
export { ClipTokenizer } from './tokenizer/clip-tokenizer.ts';
export { createScheduler, SCHEDULER_NAMES, img2imgTimesteps } from './schedulers/index.ts';
export type { Scheduler, SchedulerName, SchedulerConfig, StepOptions } from './schedulers/index.ts';
export { createRandom, seededNoise } from './random.ts';
export type { SeededRandom } from './random.ts';
export { loadPipeline } from './pipeline.ts';
export type { Pipeline, GenerateRequest, GenerateResult, GenerateOptions, PendingResult, ProgressInfo } from './pipeline.ts';
export type { UpscaleRequest, GenerateTimings, LoadPipelineOptions } from './pipeline.ts';
export { readPngParameters, makeGrid, formatParameters, parseParameters } from './images.ts';
export type { ImageParameters } from './images.ts';
