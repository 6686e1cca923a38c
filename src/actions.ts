/**
 * Button / action ids shared by Discord custom_ids (at most 100 characters) and Slack
 * action_ids (at most 255), and the rows of buttons a result gets. Platforms only render
 * these; what a press does is decided by the commands.
 *
 * Format: `im1:<code>:<id>[:<index>]`, e.g. `im1:u:r_8f2k:0` is U1 of result r_8f2k.
 * "im1" versions the format so ids on old messages can be told apart if it ever changes.
 * Ids are letters, digits, "_", "." and "-" (never ":"), at most 80 characters, so an
 * encoded id is at most 88 characters.
 */
import type { JobResult } from './jobs.ts';

export const ACTION_ID_VERSION = 'im1';
export const MAX_ACTION_ID_LENGTH = 100;
export const MAX_TARGET_ID_LENGTH = 80;
const TARGET_ID = /^[A-Za-z0-9_.-]{1,80}$/;

/** Act on one image of a result. The edits (zoom, pan, region, remix) are offered on single-image results. */
export type ImageAction =
  | 'upscale'
  | 'variation'
  | 'vary-subtle'
  | 'vary-strong'
  | 'zoom-2'
  | 'zoom-1.5'
  | 'zoom-custom'
  | 'pan-left'
  | 'pan-right'
  | 'pan-up'
  | 'pan-down'
  | 'vary-region'
  | 'remix';
/** Act on a whole result. */
export type WholeResultAction = 'reseed' | 'delete';
/** Act on a job (running: cancel; failed: retry). */
export type JobAction = 'cancel' | 'retry';
export type Action = ImageAction | WholeResultAction | JobAction;

export type ActionRef =
  | { action: ImageAction; resultId: string; index: number }
  | { action: WholeResultAction; resultId: string }
  | { action: JobAction; jobId: string };

const CODES: Record<Action, string> = {
  upscale: 'u',
  variation: 'v',
  'vary-subtle': 's',
  'vary-strong': 'x',
  'zoom-2': 'z2',
  'zoom-1.5': 'z15',
  'zoom-custom': 'zc',
  'pan-left': 'pl',
  'pan-right': 'pr',
  'pan-up': 'pu',
  'pan-down': 'pd',
  'vary-region': 'vr',
  remix: 'rx',
  reseed: 'r',
  delete: 'd',
  cancel: 'c',
  retry: 't',
};
const ACTION_BY_CODE = new Map(Object.entries(CODES).map(([action, code]) => [code, action as Action]));
/** The presses that start an edit job straight away, with what they do. */
export const ZOOM_ACTIONS = { 'zoom-2': 2, 'zoom-1.5': 1.5 } as const satisfies Partial<Record<ImageAction, number>>;
export const PAN_ACTIONS = { 'pan-left': 'left', 'pan-right': 'right', 'pan-up': 'up', 'pan-down': 'down' } as const satisfies Partial<Record<ImageAction, string>>;
const IMAGE_ACTIONS: ReadonlySet<Action> = new Set<ImageAction>([
  'upscale',
  'variation',
  'vary-subtle',
  'vary-strong',
  'zoom-2',
  'zoom-1.5',
  'zoom-custom',
  'pan-left',
  'pan-right',
  'pan-up',
  'pan-down',
  'vary-region',
  'remix',
]);
const JOB_ACTIONS: ReadonlySet<Action> = new Set<JobAction>(['cancel', 'retry']);
const MAX_INDEX = 3;

export function encodeAction(ref: ActionRef): string {
  const target = 'jobId' in ref ? ref.jobId : ref.resultId;
  if (!TARGET_ID.test(target)) {
    throw new RangeError(`action target id must be 1-${MAX_TARGET_ID_LENGTH} letters, digits, "_", "." or "-"; got ${JSON.stringify(target.slice(0, 100))}`);
  }
  let id = `${ACTION_ID_VERSION}:${CODES[ref.action]}:${target}`;
  if ('index' in ref) {
    if (!Number.isInteger(ref.index) || ref.index < 0 || ref.index > MAX_INDEX) throw new RangeError(`image index must be 0-${MAX_INDEX}; got ${ref.index}`);
    id += `:${ref.index}`;
  }
  return id;
}

/** The action an id stands for, or null for anything this version did not make (other apps' ids, garbage, tampering). */
export function decodeAction(id: unknown): ActionRef | null {
  if (typeof id !== 'string' || id.length > MAX_ACTION_ID_LENGTH) return null;
  const parts = id.split(':');
  if (parts[0] !== ACTION_ID_VERSION || parts.length < 3 || parts.length > 4) return null;
  const action = ACTION_BY_CODE.get(parts[1]);
  const target = parts[2];
  if (!action || !TARGET_ID.test(target)) return null;
  if (IMAGE_ACTIONS.has(action)) {
    if (parts.length !== 4 || !/^[0-3]$/.test(parts[3])) return null;
    return { action: action as ImageAction, resultId: target, index: Number(parts[3]) };
  }
  if (parts.length !== 3) return null;
  return JOB_ACTIONS.has(action) ? { action: action as JobAction, jobId: target } : { action: action as WholeResultAction, resultId: target };
}

export function actionLabel(ref: ActionRef): string {
  switch (ref.action) {
    case 'upscale':
      return `U${ref.index + 1}`;
    case 'variation':
      return `V${ref.index + 1}`;
    case 'reseed':
      return '🔄';
    case 'vary-subtle':
      return 'Vary (Subtle)';
    case 'vary-strong':
      return 'Vary (Strong)';
    case 'zoom-2':
      return 'Zoom Out 2x';
    case 'zoom-1.5':
      return 'Zoom Out 1.5x';
    case 'zoom-custom':
      return 'Custom Zoom';
    case 'pan-left':
      return '⬅';
    case 'pan-right':
      return '➡';
    case 'pan-up':
      return '⬆';
    case 'pan-down':
      return '⬇';
    case 'vary-region':
      return 'Vary (Region)';
    case 'remix':
      return 'Remix';
    case 'delete':
    case 'cancel':
      return '✖';
    case 'retry':
      return 'Retry';
  }
}

export interface ActionButton {
  /** The custom_id / action_id. */
  id: string;
  label: string;
  ref: ActionRef;
  /** Discord: Primary / Secondary / Danger; Slack: primary / (default) / danger. */
  style: 'primary' | 'secondary' | 'danger';
}

function button(ref: ActionRef, style: ActionButton['style'] = 'secondary'): ActionButton {
  return { id: encodeAction(ref), label: actionLabel(ref), ref, style };
}

export interface ResultRowOptions {
  /** Offer Vary (Region): only where its editor can be reached (a public address is configured). */
  regionEditor?: boolean;
}

/**
 * The buttons under a result, row by row:
 *   U1..Un            (not on an upscaled image)
 *   V1..Vn            (strong variation of that image; only when n > 1)
 *   🔄 [Vary (Subtle) Vary (Strong) when n = 1] ✖
 * and, for a single image, the edits:
 *   [Vary (Region)] Remix
 *   Zoom Out 2x  Zoom Out 1.5x  Custom Zoom
 *   ⬅ ➡ ⬆ ⬇
 * A single image gets the named pair instead of V1: V1 and Vary (Strong) do the same, and
 * two buttons for one action read as two different things. At most 5 rows of at most 5
 * buttons (Discord's limit; Slack shows each row as one actions block).
 */
export function resultActionRows(result: Pick<JobResult, 'resultId' | 'images' | 'kind'>, opts: ResultRowOptions = {}): ActionButton[][] {
  const { resultId } = result;
  const indexes = result.images.map((_, index) => index);
  const single = indexes.length === 1;
  const rows: ActionButton[][] = [];
  if (result.kind !== 'upscale') rows.push(indexes.map((index) => button({ action: 'upscale', resultId, index })));
  if (!single) rows.push(indexes.map((index) => button({ action: 'variation', resultId, index })));
  rows.push([
    button({ action: 'reseed', resultId }),
    ...(single ? [button({ action: 'vary-subtle', resultId, index: 0 }), button({ action: 'vary-strong', resultId, index: 0 })] : []),
    button({ action: 'delete', resultId }, 'danger'),
  ]);
  if (single) {
    const index = 0;
    rows.push([...(opts.regionEditor ? [button({ action: 'vary-region', resultId, index })] : []), button({ action: 'remix', resultId, index })]);
    rows.push([button({ action: 'zoom-2', resultId, index }), button({ action: 'zoom-1.5', resultId, index }), button({ action: 'zoom-custom', resultId, index })]);
    rows.push((['pan-left', 'pan-right', 'pan-up', 'pan-down'] as const).map((action) => button({ action, resultId, index })));
  }
  return rows;
}

/** The ✖ under a queued or running job's status message. */
export function progressActionRows(jobId: string): ActionButton[][] {
  return [[button({ action: 'cancel', jobId }, 'danger')]];
}

/** The Retry under a failure notice. */
export function failureActionRows(jobId: string): ActionButton[][] {
  return [[button({ action: 'retry', jobId }, 'primary')]];
}
