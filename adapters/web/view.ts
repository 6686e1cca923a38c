/**
 * What the page is sent about a result: image URLs instead of artifact keys, the buttons as
 * the shared action rows (ids from src/actions.ts, so a press means the same as on Discord or
 * Slack), and the parameters with their /imagine line (which remakes the image only for a
 * result made from a prompt alone; see copyLabel).
 */
import { failureActionRows, progressActionRows, resultActionRows, type ActionButton, type ActionRef } from '../../src/actions.ts';
import type { Config } from '../../src/config.ts';
import type { GenerationParams, JobResult } from '../../src/jobs.ts';
import { showsFlaggedImage } from '../../src/delivery.ts';
import { describeResult } from '../../commands/summary.ts';
import { editForm, isFormAction, type EditForm } from '../../commands/edit-forms.ts';
import { commandText } from './command-text.ts';

export interface ButtonView {
  id: string;
  label: string;
  style: ActionButton['style'];
  /** What the button does, for the tooltip and screen readers (🔄 and ✖ say little on their own). */
  title: string;
  /**
   * Drawn as an inline SVG icon instead of the label: 🔄 needs an emoji font, and where none is
   * installed the browser shows an empty box.
   */
  icon?: 'reseed';
  /**
   * Remix and Custom Zoom: the form the page shows inline (prefilled), sent to /api/form;
   * Vary (Region): the page opens its region editor over the image instead of pressing.
   */
  opens?: { kind: 'form'; form: EditForm } | { kind: 'region'; index: number };
}

export interface ResultView {
  resultId: string;
  jobId: string;
  kind: JobResult['kind'];
  parentResultId?: string;
  createdAt: number;
  params: GenerationParams;
  /** Size, count, seeds and settings of the images this result holds. */
  summary: string;
  command: string;
  /** What the copy button says the command is: only a txt2img result's line makes the same image again. */
  copy: CopyLabel;
  provider: string;
  gridUrl: string;
  /** Each image on its own, so the page can lay them out as numbered tiles (image k is Uk / Vk). */
  images: { url: string; seed: number; width: number; height: number; flagged: boolean; withheld: boolean }[];
  /** The model folder's safety checker flagged an image: the page blurs it until clicked. */
  flagged: boolean;
  /** …and NSFW_MODE=withhold: the flagged pictures are not served at all; the page says so instead. */
  withheld: boolean;
  rows: ButtonView[][];
}

export interface CopyLabel {
  label: string;
  /** The tooltip: what pasting the line does. */
  note: string;
}

/**
 * A variation or an upscale starts from another image, which no /imagine line carries: its
 * line makes new images from the same prompt and settings (an upscale's at the source's size),
 * not this one, and the button says so instead of promising the same image.
 */
export function copyLabel(kind: JobResult['kind']): CopyLabel {
  if (kind === 'txt2img') return { label: 'Copy command', note: 'The exact /imagine line that makes this image again, here, on Discord or on Slack.' };
  const what = kind === 'upscale' ? 'An upscale' : kind === 'edit' ? 'An edit (zoom, pan or region)' : 'A variation';
  return { label: 'Copy prompt & settings', note: `${what} is made from another image, so no /imagine line remakes it; this line draws new images with the same prompt and settings.` };
}

export const IMAGE_ROUTE = '/api/images';

/** What the playground does with a picture the safety checker flagged: blur it until clicked (spoiler) or never send it (withhold). */
export type FlaggedImagePolicy = Config['NSFW_MODE'];

/** Whether one of a result's pictures (an image, or the grid that shows them all) must not be sent. */
export function isWithheld(result: Pick<JobResult, 'images'>, which: number | 'grid', policy: FlaggedImagePolicy): boolean {
  if (policy !== 'withhold') return false;
  return which === 'grid' ? showsFlaggedImage(result) : result.images[which]?.nsfw === true;
}

/** The URL of one of a result's images: `grid` or the 0-based index. */
export function imageUrl(resultId: string, which: number | 'grid'): string {
  return `${IMAGE_ROUTE}/${encodeURIComponent(resultId)}/${which === 'grid' ? 'grid' : which}.png`;
}

function title(ref: ActionRef): string {
  switch (ref.action) {
    case 'upscale':
      return `Upscale image ${ref.index + 1} ×2`;
    case 'variation':
    case 'vary-strong':
      return `Strong variation of image ${ref.index + 1}`;
    case 'vary-subtle':
      return `Subtle variation of image ${ref.index + 1}`;
    case 'zoom-2':
    case 'zoom-1.5':
      return `Zoom out ${ref.action === 'zoom-2' ? 2 : 1.5}x: draw a border around the image`;
    case 'zoom-custom':
      return 'Zoom out by a factor from 1 to 2';
    case 'pan-left':
    case 'pan-right':
    case 'pan-up':
    case 'pan-down':
      return `Extend the image ${ref.action.slice(4)}`;
    case 'vary-region':
      return 'Repaint a region of the image';
    case 'remix':
      return 'Vary the image with an edited prompt';
    case 'reseed':
      return 'The same request with a new seed';
    case 'delete':
      return 'Remove this result';
    case 'cancel':
      return 'Cancel this job';
    case 'retry':
      return 'Run this request again';
  }
}

function opens(ref: ActionRef, result: JobResult | undefined, id: string): ButtonView['opens'] | undefined {
  if (!result || !('index' in ref)) return undefined;
  if (isFormAction(ref)) return { kind: 'form', form: editForm(ref, result, id) };
  return ref.action === 'vary-region' ? { kind: 'region', index: ref.index } : undefined;
}

const buttons = (rows: ActionButton[][], result?: JobResult): ButtonView[][] =>
  rows.map((row) =>
    row.map(({ id, label, style, ref }) => {
      const form = opens(ref, result, id);
      return { id, label, style, title: title(ref), ...(ref.action === 'reseed' ? { icon: 'reseed' as const } : {}), ...(form ? { opens: form } : {}) };
    }),
  );

export function resultView(result: JobResult, policy: FlaggedImagePolicy): ResultView {
  return {
    resultId: result.resultId,
    jobId: result.jobId,
    kind: result.kind,
    ...(result.parentResultId ? { parentResultId: result.parentResultId } : {}),
    createdAt: result.createdAt,
    params: result.params,
    summary: describeResult(result.params, result.images),
    command: commandText(result.params),
    copy: copyLabel(result.kind),
    provider: result.provider,
    gridUrl: imageUrl(result.resultId, result.grid ? 'grid' : 0),
    images: result.images.map((img, i) => ({
      url: imageUrl(result.resultId, i),
      seed: img.seed,
      width: img.width,
      height: img.height,
      flagged: img.nsfw === true,
      withheld: isWithheld(result, i, policy),
    })),
    flagged: showsFlaggedImage(result),
    withheld: isWithheld(result, 'grid', policy),
    // The editor is this page's own: Vary (Region) is always offered here.
    rows: buttons(resultActionRows(result, { regionEditor: true }), result),
  };
}

export const cancelButtons = (jobId: string): ButtonView[][] => buttons(progressActionRows(jobId));
export const retryButtons = (jobId: string): ButtonView[][] => buttons(failureActionRows(jobId));
