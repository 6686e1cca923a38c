/**
 * What Slack messages say and which buttons they carry, as Block Kit: the thread's parent
 * (requester + prompt), the job's status message in the thread (queued, progress, done,
 * cancelled), the result with its buttons (from src/actions.ts) and failures. Plain data, so
 * the bot and the worker render identically. Every message keeps to Block Kit's limits
 * (checked by `assertBlockKitLimits`), whatever the prompt's length.
 */
import { derivedJobText, parameterLine, progressText, queuedText, resultParameterLine } from '../../commands/job-text.ts';
import { failureActionRows, progressActionRows, resultActionRows, type ActionButton, type ResultRowOptions } from '../../src/actions.ts';
import type { FailureContext, FailureNotice, ProgressUpdate } from '../../src/delivery.ts';
import type { JobPayload, JobResult } from '../../src/jobs.ts';
import type { OutgoingMessage } from './slack-api.ts';
import { mention, mrkdwn, Mrkdwn, quotePrompt, toMrkdwn } from './slack-text.ts';

export const BLOCK_KIT_LIMITS = {
  blocksPerMessage: 50,
  elementsPerActions: 25,
  actionIdLength: 255,
  buttonTextLength: 75,
  buttonValueLength: 2000,
  sectionTextLength: 3000,
  contextElements: 10,
  fallbackTextLength: 40_000,
} as const;

/** The longest notice text sent whole. */
const NOTICE_TEXT_LENGTH = 4000;

/** Room for the prompt in a section, so parameters and notes always fit under 3000 characters. */
const MAX_PROMPT_SHOWN = 1000;

type Block = Record<string, unknown>;

const STYLE: Record<ActionButton['style'], 'primary' | 'danger' | undefined> = { primary: 'primary', secondary: undefined, danger: 'danger' };

export function actionBlocks(rows: ActionButton[][]): Block[] {
  return rows
    .filter((row) => row.length > 0)
    .map((row, i) => ({
      type: 'actions',
      block_id: `imagine-actions-${i}`,
      elements: row.map((b) => ({
        type: 'button',
        text: { type: 'plain_text', text: b.label, emoji: true },
        action_id: b.id,
        value: b.id,
        ...(STYLE[b.style] ? { style: STYLE[b.style] } : {}),
      })),
    }));
}

/** The problems a message would have with Block Kit's limits (empty when none). */
export function blockKitProblems(message: OutgoingMessage): string[] {
  const L = BLOCK_KIT_LIMITS;
  const problems: string[] = [];
  const blocks = (message.blocks ?? []) as Array<Record<string, any>>;
  if (message.text.length > L.fallbackTextLength) problems.push(`fallback text is ${message.text.length} characters`);
  if (blocks.length > L.blocksPerMessage) problems.push(`${blocks.length} blocks`);
  for (const block of blocks) {
    if (block.type === 'section' && block.text.text.length > L.sectionTextLength) problems.push(`section text is ${block.text.text.length} characters`);
    if (block.type === 'context' && block.elements.length > L.contextElements) problems.push(`${block.elements.length} context elements`);
    if (block.type === 'actions') {
      if (block.elements.length > L.elementsPerActions) problems.push(`${block.elements.length} elements in an actions block`);
      for (const el of block.elements) {
        if (el.action_id.length > L.actionIdLength) problems.push(`action_id ${el.action_id.length} characters`);
        if (el.text.text.length > L.buttonTextLength) problems.push(`button text ${el.text.text.length} characters`);
        if (el.value.length > L.buttonValueLength) problems.push(`button value ${el.value.length} characters`);
      }
    }
  }
  return problems;
}

function checked(message: OutgoingMessage): OutgoingMessage {
  const problems = blockKitProblems(message);
  if (problems.length > 0) throw new RangeError(`Slack message exceeds Block Kit limits: ${problems.join('; ')}`);
  return message;
}

// Every text block goes through toMrkdwn: plain strings are escaped, the bot's Mrkdwn is kept.
const section = (text: string | Mrkdwn): Block => ({ type: 'section', text: { type: 'mrkdwn', text: toMrkdwn(text) } });
const context = (...texts: Array<string | Mrkdwn>): Block => ({ type: 'context', elements: texts.map((text) => ({ type: 'mrkdwn', text: toMrkdwn(text) })) });
/** A message: its fallback text (notifications, screen readers) through the same step as the blocks. */
const message = (text: string | Mrkdwn, blocks?: Block[]): OutgoingMessage => checked({ text: toMrkdwn(text), ...(blocks ? { blocks } : {}) });

/** What the job makes, for whom: `*prompt* — Strong variation of image 2 for @user`. */
export function headline(payload: JobPayload): Mrkdwn {
  const who = mention(payload.origin.userId);
  const prompt = quotePrompt(payload.params.prompt, MAX_PROMPT_SHOWN);
  const derived = derivedJobText(payload) ?? (payload.parentResultId ? 'New seed' : null);
  return derived ? mrkdwn`*${prompt}* — ${derived} for ${who}` : mrkdwn`*${prompt}* — ${who}`;
}

/** Fallback text (notifications, screen readers): one line, short; escaped with the rest of the message. */
function fallbackPrompt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 299)}…` : oneLine;
}

/** The thread's first message, in the channel: who asked for what. */
export function renderParent(payload: JobPayload): OutgoingMessage {
  const who = mention(payload.origin.userId);
  return message(mrkdwn`${who} asked for: ${fallbackPrompt(payload.params.prompt)}`, [
    section(mrkdwn`*${quotePrompt(payload.params.prompt, MAX_PROMPT_SHOWN)}*`),
    context(mrkdwn`Requested by ${who} with /imagine · ${parameterLine(payload.params)}`),
  ]);
}

export type StatusState =
  | { kind: 'queueing' }
  /** averageMs: the measured average job (src/job-durations.ts), for about when it starts. */
  | { kind: 'queued'; position: number; averageMs?: number | null }
  | { kind: 'progress'; update: ProgressUpdate }
  | { kind: 'done'; seconds?: number }
  | { kind: 'cancelled' };

export function statusLine(state: StatusState): string {
  switch (state.kind) {
    case 'queueing':
      return '⏳ Queuing…';
    case 'queued':
      return `${state.position > 0 ? '⏳' : '⚙️'} ${queuedText(state.position, state.averageMs ?? null)}`;
    case 'progress':
      return `⚙️ ${progressText(state.update)}`;
    case 'done':
      return state.seconds !== undefined ? `✅ Done in ${state.seconds.toFixed(1)} s` : '✅ Done';
    case 'cancelled':
      return '🚫 Cancelled.';
  }
}

/** The job's status message in the thread; ✖ cancels while it is queued or running. */
export function renderStatus(payload: JobPayload, state: StatusState, jobId?: string): OutgoingMessage {
  const line = statusLine(state);
  const cancellable = jobId !== undefined && (state.kind === 'queued' || state.kind === 'progress');
  const blocks: Block[] = [section(headline(payload)), context(parameterLine(payload.params), line), ...(cancellable ? actionBlocks(progressActionRows(jobId)) : [])];
  return message(`${line.replace(/^\S+ /, '')} — ${fallbackPrompt(payload.params.prompt)}`, blocks);
}

/** The result message under the uploaded grid: parameters with the images' size and every image's seed, notes, and the buttons. */
export function renderResult(payload: JobPayload, result: JobResult, notes: string[] = [], rows: ResultRowOptions = {}): OutgoingMessage {
  const blocks: Block[] = [
    section(headline(payload)),
    context(resultParameterLine(result)),
    ...(notes.length > 0 ? [context(...notes)] : []),
    ...actionBlocks(resultActionRows(result, rows)),
  ];
  return message(mrkdwn`Images for ${mention(payload.origin.userId)}: ${fallbackPrompt(payload.params.prompt)}`, blocks);
}

/**
 * A failed job: its headline and the reason, with Retry when offered. A job whose parameters are
 * unknown (its data failed the schema) shows only the mention and the reason, and nothing to retry.
 */
export function renderFailure(job: Pick<FailureContext, 'jobId' | 'origin' | 'payload'>, notice: FailureNotice): OutgoingMessage {
  const status = notice.cancelled ? `🚫 Cancelled. ${notice.message}`.trim() : `❌ ${notice.message}`;
  const head = job.payload ? headline(job.payload) : mention(job.origin.userId);
  const retry = notice.retry && job.payload !== null;
  const blocks: Block[] = [section(head), context(status), ...(retry ? actionBlocks(failureActionRows(job.jobId)) : [])];
  return message(`${notice.cancelled ? 'Cancelled' : 'Failed'}: ${fallbackPrompt(notice.message)}`, blocks);
}

/**
 * A short ephemeral answer (acknowledgements, errors, refusals, queue positions, help). Given
 * plain text, as every command's answer is, it is escaped: a value quoted back from what the
 * user typed stays text.
 */
export function renderNotice(text: string | Mrkdwn): OutgoingMessage {
  if (text instanceof Mrkdwn) return message(text);
  // Slack shows a message's text whole up to 4,000 characters (its guideline; longer ones are cut or split): /imagine help with its reactions line fits.
  return message(text.length > NOTICE_TEXT_LENGTH ? `${text.slice(0, NOTICE_TEXT_LENGTH - 1)}…` : text);
}
