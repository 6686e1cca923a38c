/**
 * The result buttons that ask something first instead of starting a job at once:
 *   Remix          a form with the image's prompt to edit; the edited prompt drives a strong
 *                  variation of that image;
 *   Custom Zoom    the same form with `--zoom 2` after the prompt (Midjourney's way): the value,
 *                  1.0 to 2.0, is how far the image zooms out, and the rest is the prompt;
 *   Vary (Region)  the web editor, where the region to repaint is drawn.
 * Each platform shows the form its own way (a Discord modal, a Slack modal, an inline form on
 * the web); the form's id is the button's own action id, so a submission names its result and
 * image and is decided from the stores alone, after any restart.
 */
import type { ActionRef, ImageAction } from '../src/actions.ts';
import { decodeAction, encodeAction } from '../src/actions.ts';
import { ZOOM_MAX, ZOOM_MIN, type JobResult } from '../src/jobs.ts';
import type { CommandContext, CommandOutcome, MessageOutcome } from './context.ts';
import { refuse } from './context.ts';
import { checkPressedMessage, type ActionFacts } from './result-action.ts';
import { checkResultAccess } from './result-access.ts';
import { variation } from './variation.ts';
import { zoomOut } from './zoom-out.ts';

export type FormAction = Extract<ImageAction, 'remix' | 'zoom-custom'>;
export type FormRef = { action: FormAction; resultId: string; index: number };

/** The one field every form has: the prompt (with `--zoom` for Custom Zoom). */
export const PROMPT_FIELD = 'prompt';
/** What a submitted prompt may hold (the job's own prompt limit, plus room for flags). */
export const MAX_FORM_TEXT = 4000;
/** What Custom Zoom prefills. */
export const DEFAULT_CUSTOM_ZOOM = 2;

export interface EditForm {
  /** The form's id: the pressed button's action id. */
  id: string;
  action: FormAction;
  /** Short enough for every platform's modal title (Slack: 24 characters). */
  title: string;
  /** The submit button (Slack: 24 characters). */
  submit: string;
  label: string;
  /** The prefilled text. */
  value: string;
  /** One line under the field: what to change. */
  hint: string;
}

export type PressStep =
  | { kind: 'form'; form: EditForm }
  /** Vary (Region): the presser gets a private link to the editor for this image. */
  | { kind: 'region-editor'; resultId: string; index: number }
  | MessageOutcome;

export const isFormAction = (ref: ActionRef): ref is FormRef => ref.action === 'remix' || ref.action === 'zoom-custom';

/** The prompt as typed for /imagine: the image's prompt and its `--no` words. */
export function promptLine(result: JobResult): string {
  const { prompt, negativePrompt } = result.params;
  return negativePrompt ? `${prompt} --no ${negativePrompt}` : prompt;
}

export function editForm(ref: FormRef, result: JobResult, id: string): EditForm {
  const line = promptLine(result);
  if (ref.action === 'remix') {
    return { id, action: 'remix', title: 'Remix', submit: 'Vary', label: 'Prompt', value: line, hint: `Edit the prompt: a strong variation of image ${ref.index + 1} follows it.` };
  }
  return {
    id,
    action: 'zoom-custom',
    title: 'Custom Zoom',
    submit: 'Zoom Out',
    label: 'Prompt and --zoom',
    value: `${line} --zoom ${DEFAULT_CUSTOM_ZOOM}`,
    hint: `--zoom ${ZOOM_MIN}.0 to ${ZOOM_MAX}.0: how far image ${ref.index + 1} zooms out (2 halves its sides). The prompt may change too.`,
  };
}

/**
 * What pressing a form or editor button does: the same checks as any button on the result (is
 * it still there, may this person press it, is this its message), then the form or the editor.
 * null for every other button, which decideAction handles.
 */
export function pressStep(ref: ActionRef, facts: ActionFacts, ctx: CommandContext, pressedMessageId?: string): PressStep | null {
  if (!isFormAction(ref) && ref.action !== 'vary-region') return null;
  if (pressedMessageId !== undefined) {
    const wrong = checkPressedMessage(ref, facts, pressedMessageId);
    if (wrong) return wrong;
  }
  const result = facts.result ?? null;
  const index = (ref as FormRef).index;
  const denied = checkResultAccess(result, index, ctx);
  if (denied) return denied;
  if (isFormAction(ref)) return { kind: 'form', form: editForm(ref, result!, encodeAction(ref)) };
  return { kind: 'region-editor', resultId: result!.resultId, index };
}

/** The form a submitted id names, or null for anything that is not one of ours. */
export function decodeFormId(id: unknown): FormRef | null {
  const ref = decodeAction(id);
  return ref && isFormAction(ref) ? ref : null;
}

const ZOOM_FLAG = /(?:^|\s)[—–-]-?zoom(?:[\s=]+([^\s]+))?/i;

/** Custom Zoom's text: the `--zoom` value and the prompt around it, or what is wrong with it. */
export function splitZoom(text: string): { factor: string; prompt: string } | MessageOutcome {
  const m = ZOOM_FLAG.exec(text);
  if (!m) return refuse('missing-value', `Custom Zoom needs --zoom and a number from ${ZOOM_MIN}.0 to ${ZOOM_MAX}.0 after the prompt, e.g. "a lighthouse at dusk --zoom 1.5".`);
  if (m[1] === undefined || m[1].startsWith('--')) return refuse('missing-value', `--zoom needs a number from ${ZOOM_MIN}.0 to ${ZOOM_MAX}.0, e.g. --zoom 1.5.`);
  const rest = `${text.slice(0, m.index)} ${text.slice(m.index + m[0].length)}`.replace(/\s+/g, ' ').trim();
  if (ZOOM_FLAG.test(rest)) return refuse('duplicate-flag', '--zoom is given twice; keep one.');
  return { factor: m[1], prompt: rest };
}

/** A submitted form: the job it makes, or why not. `text` is the prompt field as submitted. */
export function submitForm(ref: FormRef, text: string, facts: ActionFacts, ctx: CommandContext, pressedMessageId?: string): CommandOutcome {
  if (pressedMessageId !== undefined) {
    const wrong = checkPressedMessage(ref, facts, pressedMessageId);
    if (wrong) return wrong;
  }
  const result = facts.result ?? null;
  const typed = text.slice(0, MAX_FORM_TEXT).trim();
  if (ref.action === 'remix') return variation({ result, index: ref.index, mode: 'strong', prompt: typed }, ctx);
  // An expired result or a refused presser matters more than a typo in the value.
  const denied = checkResultAccess(result, ref.index, ctx);
  if (denied) return denied;
  const split = splitZoom(typed);
  if ('kind' in split) return split;
  // The prompt unchanged is a plain zoom; an edited one is a remix.
  const same = result !== null && split.prompt === promptLine(result);
  return zoomOut({ result, index: ref.index, factor: split.factor, ...(same ? {} : { prompt: split.prompt }) }, ctx);
}
