/**
 * Job and result contracts. Versioned (`v`) so a worker never runs a payload it does not
 * understand; validated when enqueued and again when dequeued.
 *
 * Platform secrets (Discord interaction tokens, Slack response_urls) are deliberately absent:
 * BullMQ stores job data in clear text, so they live under their own expiring key
 * (see platform-secrets.ts).
 */
import { z } from 'zod';
import { SAMPLERS } from './samplers.ts';

export const JOB_VERSION = 1 as const;

/** A platform module's name (adapters/<platform>/module.ts); which ones exist is the composition root's list. */
export const platformSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'a platform name' });
export type Platform = z.infer<typeof platformSchema>;

/**
 * Data only the origin's platform reads (Discord: its application id and the member's roles),
 * checked by that platform's own schema where it is read. Bounded here so a job stays small.
 */
export const platformDataSchema = z.record(
  z.string().max(64),
  z.union([z.string().max(256), z.number(), z.boolean(), z.array(z.string().max(64)).max(250)]),
);

/** Where a job came from and where its messages go. */
export const originSchema = z.object({
  platform: platformSchema,
  /** Discord guild id / Slack team id; absent in DMs and on the web. */
  workspaceId: z.string().max(64).optional(),
  channelId: z.string().min(1).max(64),
  /** Slack thread_ts / Discord thread channel; absent when the reply is not threaded. */
  threadId: z.string().max(64).optional(),
  userId: z.string().min(1).max(64),
  userName: z.string().max(100).optional(),
  /** The message that shows this job's status and is edited with progress. */
  messageId: z.string().max(64).optional(),
  /** The platform event that caused the job (interaction id, command trigger, event id): the dedupe key. */
  eventId: z.string().max(128).optional(),
  /** What the platform keeps for itself (its module's schema says what). */
  platformData: platformDataSchema.optional(),
});
export type Origin = z.infer<typeof originSchema>;

export const MAX_SEED = 4294967295;

/** The most denoising steps any job carries; the MAX_STEPS setting may lower it, never raise it. */
export const STEPS_CEILING = 500;

/** Fully resolved generation parameters: what the pipeline runs and what a result records. */
export const generationParamsSchema = z.object({
  prompt: z.string().min(1).max(4000),
  negativePrompt: z.string().max(4000).default(''),
  seed: z.number().int().min(0).max(MAX_SEED),
  steps: z.number().int().min(1).max(STEPS_CEILING),
  guidance: z.number().min(0).max(30),
  width: z.number().int().min(32).max(4096).multipleOf(8),
  height: z.number().int().min(32).max(4096).multipleOf(8),
  n: z.number().int().min(1).max(4),
  sampler: z.enum(SAMPLERS),
  model: z.string().min(1).max(100),
});
export type GenerationParams = z.infer<typeof generationParamsSchema>;

export const sourceImageSchema = z.object({
  resultId: z.string().min(1).max(64),
  index: z.number().int().min(0).max(3),
});
export type SourceImage = z.infer<typeof sourceImageSchema>;

const base = {
  v: z.literal(JOB_VERSION),
  origin: originSchema,
  params: generationParamsSchema,
  /** The result this job was derived from (buttons, reactions); absent for a fresh /imagine. */
  parentResultId: z.string().max(64).optional(),
  createdAt: z.number().int(),
};

export const txt2imgJobSchema = z.object({
  ...base,
  kind: z.literal('txt2img'),
  /** An uploaded init image (img2img from an attachment), already fetched into the artifact store. */
  initImage: z.object({ artifactKey: z.string().min(1).max(200), strength: z.number().min(0.05).max(1) }).optional(),
});

export const variationJobSchema = z.object({
  ...base,
  kind: z.literal('variation'),
  source: sourceImageSchema,
  /** strong = img2img of the source at `strength`; subtle = same seed, noise slerped toward `blendSeed`. */
  mode: z.enum(['strong', 'subtle']),
  strength: z.number().min(0.05).max(1),
  blendSeed: z.number().int().min(0).max(MAX_SEED).optional(),
  blendAmount: z.number().min(0).max(1).optional(),
});

export const upscaleJobSchema = z.object({
  ...base,
  kind: z.literal('upscale'),
  source: sourceImageSchema,
  factor: z.union([z.literal(2), z.literal(4)]),
});

/** How far Zoom Out may shrink the source: 1 keeps it whole, 2 halves its sides. */
export const ZOOM_MIN = 1;
export const ZOOM_MAX = 2;
export const PAN_DIRECTIONS = ['left', 'right', 'up', 'down'] as const;
export type PanDirection = (typeof PAN_DIRECTIONS)[number];

/**
 * An edit of one image: the part to keep follows the source, the rest is generated.
 *   zoom:   the source shrinks by `factor` into the centre of a canvas of its own size; the border is new.
 *   pan:    the canvas grows by half towards `direction`; the new strip is generated.
 *   region: the white area of a PNG mask (in the artifact store, any size: resized to the source) is repainted.
 */
export const editSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('zoom'), factor: z.number().min(ZOOM_MIN).max(ZOOM_MAX) }),
  z.object({ type: z.literal('pan'), direction: z.enum(PAN_DIRECTIONS) }),
  z.object({ type: z.literal('region'), maskArtifactKey: z.string().min(1).max(200) }),
]);
export type Edit = z.infer<typeof editSchema>;

/** "Zoom out 2x", "Pan right", "Vary (Region)": what an edit did, as results and PNG text show it. */
export function describeEdit(edit: Edit): string {
  switch (edit.type) {
    case 'zoom':
      return `Zoom out ${edit.factor}x`;
    case 'pan':
      return `Pan ${edit.direction}`;
    case 'region':
      return 'Vary (Region)';
  }
}

export const editJobSchema = z.object({
  ...base,
  kind: z.literal('edit'),
  source: sourceImageSchema,
  edit: editSchema,
});

export const jobPayloadSchema = z.discriminatedUnion('kind', [txt2imgJobSchema, variationJobSchema, upscaleJobSchema, editJobSchema]);
export type JobPayload = z.infer<typeof jobPayloadSchema>;

export const artifactRefSchema = z.object({ key: z.string().min(1).max(200), bytes: z.number().int().min(0), contentType: z.string() });
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

export const resultSchema = z.object({
  v: z.literal(JOB_VERSION),
  resultId: z.string().min(1).max(64),
  jobId: z.string().min(1).max(128),
  kind: z.enum(['txt2img', 'variation', 'upscale', 'edit']),
  params: generationParamsSchema,
  /** What an edit job did to its source (kind 'edit' only), for the parameters shown and the PNG text. */
  edit: editSchema.optional(),
  origin: originSchema,
  parentResultId: z.string().max(64).optional(),
  images: z
    .array(
      z.object({
        artifact: artifactRefSchema,
        seed: z.number().int().min(0).max(MAX_SEED),
        width: z.number().int(),
        height: z.number().int(),
        /** The model folder's safety checker flagged it (absent when the folder has no checker). */
        nsfw: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(4),
  grid: artifactRefSchema.optional(),
  timings: z.record(z.string(), z.number()),
  model: z.string(),
  sampler: z.string(),
  provider: z.string(),
  createdAt: z.number().int(),
  /** The platform message that shows this result (filled in after delivery). */
  messageId: z.string().optional(),
});
export type JobResult = z.infer<typeof resultSchema>;

/** Thrown for a payload that must never be retried: the message is safe to show users. */
export class InvalidJobError extends Error {
  readonly userMessage: string;
  constructor(userMessage: string, readonly detail: string) {
    super(`${userMessage} (${detail})`);
    this.name = 'InvalidJobError';
    this.userMessage = userMessage;
  }
}

/** Validate a payload (at enqueue and at dequeue). An unknown version or bad shape is an InvalidJobError. */
export function parseJobPayload(data: unknown): JobPayload {
  const version = (data as { v?: unknown } | null)?.v;
  if (version !== JOB_VERSION) {
    throw new InvalidJobError(
      'This request was made by a different version of the bot and cannot be run. Please send it again.',
      `unsupported job version ${JSON.stringify(version)}`,
    );
  }
  const parsed = jobPayloadSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidJobError('This request is malformed and cannot be run. Please send it again.', `${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export function parseJobResult(data: unknown): JobResult {
  return resultSchema.parse(data);
}
