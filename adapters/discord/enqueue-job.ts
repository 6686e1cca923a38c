/**
 * The shared tail of every way a job starts on Discord (slash command, button, reaction):
 * enqueue, then show the queue position in the job's status message, without ever writing
 * over what the worker has already delivered there (see the reply hold in state.ts).
 */
import type { ButtonInteraction, ChatInputCommandInteraction, ModalSubmitInteraction } from 'discord.js';
import type { CommandOutcome, CommandWarning } from '../../commands/context.ts';
import { averageJobMs } from '../../src/job-durations.ts';
import { InvalidJobError, type JobPayload } from '../../src/jobs.ts';
import type { SecretGrant } from '../../src/platform-secrets.ts';
import { interactionTokenGrant } from './secret.ts';
import type { EnqueueOptions, EnqueueOutcome } from '../../src/queue/types.ts';
import type { BotRuntime } from './bot-context.ts';
import { quotePrompt, renderQueued, type RenderedMessage } from './render.ts';
import { replaceWithEphemeral } from './replies.ts';
import { REPLY_HOLD, rememberAttachmentLimit, rememberJobMessage, type JobMessage } from './state.ts';

export interface EnqueueFlow {
  payload: JobPayload;
  dedupeId?: string;
  warnings: CommandWarning[];
  secret?: SecretGrant;
  /** Work only an admitted job may cost (EnqueueOptions.prepare); an InvalidJobError from it refuses the job. */
  prepare?: EnqueueOptions['prepare'];
  /** Edit (or create) the job's status message; returns the message that now shows the job. */
  showQueued(message: RenderedMessage): Promise<JobMessage>;
  /** The job already existed (the event was delivered twice); undo anything made for this delivery. */
  duplicate?(jobId: string): Promise<void>;
  /** Tell the user why nothing was queued. */
  refuse(message: string): Promise<void>;
}

export async function enqueueAndShow(rt: BotRuntime, flow: EnqueueFlow): Promise<EnqueueOutcome | null> {
  const eventId = flow.payload.origin.eventId;
  if (eventId) await REPLY_HOLD.hold(rt.kv, eventId);
  try {
    let outcome: EnqueueOutcome;
    try {
      const prepare = flow.prepare;
      outcome = await rt.queue.enqueue(flow.payload, {
        dedupeId: flow.dedupeId,
        secret: flow.secret,
        ...(prepare
          ? {
              // A download can outlast the hold; renewed before the job is added, it still covers showing the position.
              prepare: async (payload: JobPayload) => {
                const prepared = await prepare(payload);
                if (eventId) await REPLY_HOLD.hold(rt.kv, eventId);
                return prepared;
              },
            }
          : {}),
      });
    } catch (err) {
      if (err instanceof InvalidJobError) {
        await flow.refuse(err.userMessage);
        return null;
      }
      throw err;
    }
    if (!outcome.ok) {
      await flow.refuse(outcome.message);
      return outcome;
    }
    if (outcome.duplicate) {
      // The same platform event seen twice: its first delivery already shows the job.
      await flow.duplicate?.(outcome.jobId);
      return outcome;
    }
    const averageMs = await averageJobMs(rt.kv);
    const shown = await flow.showQueued(renderQueued(flow.payload, outcome.position, outcome.jobId, flow.warnings.map((w) => w.message), averageMs));
    await rememberJobMessage(rt.kv, outcome.jobId, shown);
    rt.logger.info({ jobId: outcome.jobId, kind: flow.payload.kind, position: outcome.position, duplicate: outcome.duplicate }, 'discord job queued');
    return outcome;
  } finally {
    if (eventId) await REPLY_HOLD.release(rt.kv, eventId);
  }
}

export type JobToStart = Pick<Extract<CommandOutcome, { kind: 'job' }>, 'payload' | 'dedupeId' | 'warnings'>;

/**
 * A job started by an interaction (slash command or button): the interaction reports the
 * guild's attachment limit for the worker's upload, and its token lets the worker edit the
 * reply. `statusMessageId` names a follow-up to edit instead of the original reply.
 */
export async function enqueueFromInteraction(
  rt: BotRuntime,
  interaction: ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction,
  job: JobToStart,
  opts: { statusMessageId?: string; prepare?: EnqueueFlow['prepare']; refuse(message: string): Promise<void> },
): Promise<EnqueueOutcome | null> {
  await rememberAttachmentLimit(rt.kv, job.payload.origin, interaction.attachmentSizeLimit);
  return enqueueAndShow(rt, {
    ...job,
    prepare: opts.prepare,
    secret: interactionTokenGrant(interaction.token),
    showQueued: async (message) => {
      const shown = await interaction.editReply({
        ...(opts.statusMessageId ? { message: opts.statusMessageId } : {}),
        content: message.content,
        components: message.components,
        allowedMentions: { parse: [] },
      });
      return { channelId: shown.channelId, messageId: shown.id, via: 'interaction' };
    },
    refuse: opts.refuse,
  });
}

/**
 * A job started from a message's component (a button, or a modal opened from one) after a
 * deferred update: its own status message, created first so that the job's origin can name it.
 */
export async function startPressedJob(rt: BotRuntime, interaction: ButtonInteraction | ModalSubmitInteraction, outcome: JobToStart & Pick<Extract<CommandOutcome, { kind: 'job' }>, 'summary'>): Promise<void> {
  const status = await interaction.followUp({ content: `**${quotePrompt(outcome.payload.params.prompt)}** — ${outcome.summary}\nQueueing…`, allowedMentions: { parse: [] } });
  const payload = { ...outcome.payload, origin: { ...outcome.payload.origin, messageId: status.id } };
  await enqueueFromInteraction(rt, interaction, { payload, dedupeId: outcome.dedupeId, warnings: outcome.warnings }, {
    statusMessageId: status.id,
    refuse: async (message) => {
      await interaction.deleteReply(status.id).catch(() => undefined);
      await replaceWithEphemeral(interaction, message);
    },
  });
}

