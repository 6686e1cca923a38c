/**
 * What Discord messages say and which buttons they carry: the queued reply, progress, the
 * result (grid + parameters + buttons from src/actions.ts) and failures. Plain data for the
 * REST API (components as API JSON), so the bot and the worker render identically.
 */
import { derivedJobText, parameterLine, progressText, queuedText, resultParameterLine } from '../../commands/job-text.ts';
import { failureActionRows, progressActionRows, resultActionRows, type ActionButton, type ResultRowOptions } from '../../src/actions.ts';
import type { FailureContext, FailureNotice, ProgressUpdate } from '../../src/delivery.ts';
import type { JobPayload, JobResult } from '../../src/jobs.ts';

/** Discord rejects message content over 2000 characters. */
export const MAX_CONTENT = 2000;
/** Room left for the prompt in a message, so parameters and notes always fit. */
const MAX_PROMPT_SHOWN = 1200;

export interface APIButton {
  type: 2;
  style: 1 | 2 | 4;
  label: string;
  custom_id: string;
}

export interface APIActionRow {
  type: 1;
  components: APIButton[];
}

export interface RenderedMessage {
  content: string;
  components: APIActionRow[];
}

const STYLE = { primary: 1, secondary: 2, danger: 4 } as const;

export function toActionRows(rows: ActionButton[][]): APIActionRow[] {
  return rows
    .filter((row) => row.length > 0)
    .map((row) => ({ type: 1 as const, components: row.map((b) => ({ type: 2 as const, style: STYLE[b.style], label: b.label, custom_id: b.id })) }));
}

/** Markdown-inert prompt text: no formatting, mentions or links sneak in from what users type. */
export function quotePrompt(prompt: string): string {
  const shown = prompt.length > MAX_PROMPT_SHOWN ? `${prompt.slice(0, MAX_PROMPT_SHOWN)}…` : prompt;
  return shown.replace(/([\\*_~`|>#\[\]()-])/g, '\\$1').replace(/@/g, '@\u200b').replace(/\s+/g, ' ');
}

function headline(payload: JobPayload): string {
  const who = `<@${payload.origin.userId}>`;
  const prompt = `**${quotePrompt(payload.params.prompt)}**`;
  const derived = derivedJobText(payload);
  return derived ? `${prompt} — ${derived} for ${who}` : `${prompt} — ${who}`;
}

function clamp(content: string): string {
  return content.length > MAX_CONTENT ? `${content.slice(0, MAX_CONTENT - 1)}…` : content;
}

/** The bot's reply once the job is queued: what will be made, where it stands and, once jobs were measured, about when it starts. */
export function renderQueued(payload: JobPayload, position: number, jobId: string, warnings: string[] = [], averageMs: number | null = null): RenderedMessage {
  const lines = [headline(payload), parameterLine(payload.params), queuedText(position, averageMs), ...warnings.map((w) => `-# ⚠️ ${w}`)];
  return { content: clamp(lines.join('\n')), components: toActionRows(progressActionRows(jobId)) };
}

export function renderProgress(payload: JobPayload, update: ProgressUpdate, jobId: string): RenderedMessage {
  const lines = [headline(payload), parameterLine(payload.params), progressText(update)];
  return { content: clamp(lines.join('\n')), components: toActionRows(progressActionRows(jobId)) };
}

/** The result: the job's headline, the parameters with the images' size and each one's seed, any notes, and the buttons. */
export function renderResult(payload: JobPayload, result: JobResult, notes: string[] = [], rows: ResultRowOptions = {}): RenderedMessage {
  const lines = [headline(payload), resultParameterLine(result), ...notes.map((n) => `-# ${n}`)];
  return { content: clamp(lines.join('\n')), components: toActionRows(resultActionRows(result, rows)) };
}

/**
 * A failed job: its headline and the reason, with Retry when offered. A job whose parameters are
 * unknown (its data failed the schema) shows only the mention and the reason, and nothing to retry.
 */
export function renderFailure(job: Pick<FailureContext, 'jobId' | 'origin' | 'payload'>, notice: FailureNotice): RenderedMessage {
  const status = notice.cancelled ? `Cancelled. ${notice.message}`.trim() : `❌ ${notice.message}`;
  const head = job.payload ? headline(job.payload) : `<@${job.origin.userId}>`;
  const retry = notice.retry && job.payload !== null;
  return { content: clamp([head, status].join('\n')), components: retry ? toActionRows(failureActionRows(job.jobId)) : [] };
}
