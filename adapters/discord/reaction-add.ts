/**
 * Reactions on result messages (the emoji map in reactions.ts). They arrive for messages the
 * client never cached (partials), carrying only ids, which is all that is needed: the result
 * is found by its message id in Redis. There is no interaction, so nothing can be ephemeral:
 * reactions the user may not make are ignored, and a new job is announced with a channel
 * message that replies to the result (and that the worker then edits).
 */
import type { GuildMember, MessageReaction, PartialMessageReaction, PartialUser, User } from 'discord.js';
import { commandContext } from '../../commands/context.ts';
import { reactionActionRef } from '../../commands/reaction-map.ts';
import { decideAction } from '../../commands/result-action.ts';
import type { BotRuntime } from './bot-context.ts';
import { enqueueAndShow } from './enqueue-job.ts';
import { nonceFor } from './nonce.ts';
import { originFromReaction } from './origin.ts';
import { quotePrompt } from './render.ts';
import { jobMessage } from './state.ts';

interface APIMessage {
  id: string;
  channel_id: string;
}

/** Reactions are deduplicated per minute: a gateway replay is one job, a deliberate re-react later is another. */
const REACTION_DEDUPE_WINDOW_MS = 60_000;

export async function handleReactionAdd(rt: BotRuntime, reaction: MessageReaction | PartialMessageReaction, user: User | PartialUser, applicationId: string): Promise<void> {
  if (user.bot || user.id === applicationId) return;
  const mapped = rt.reactions.get(reaction.emoji.name);
  if (!mapped) return;
  const message = reaction.message;
  const result = await rt.results.getByMessage('discord', message.id);
  // Not one of our results (or long expired): reactions there are none of our business.
  if (!result) return;

  const member: GuildMember | null = message.guild?.members.cache.get(user.id) ?? null;
  const origin = originFromReaction(reaction, user, member, applicationId, Math.floor(Date.now() / REACTION_DEDUPE_WINDOW_MS));
  // A reaction cannot be answered privately, so a tile the result lacks varies (or edits) its last image instead of failing silently.
  const action = mapped.action === 'variation' || mapped.action === 'edit' ? { ...mapped, index: Math.min(mapped.index, result.images.length - 1) } : mapped;
  const outcome = decideAction(reactionActionRef(action, result.resultId), { result }, commandContext(rt, origin));
  const channelId = message.channelId;
  const rest = reaction.client.rest;

  switch (outcome.kind) {
    case 'message':
      rt.logger.debug({ messageId: message.id, userId: user.id, code: outcome.code }, 'discord reaction refused');
      return;
    case 'delete':
      await rt.results.delete(outcome.resultId);
      await rest.delete(`/channels/${channelId}/messages/${message.id}`);
      rt.logger.info({ resultId: outcome.resultId, by: user.id }, 'discord result deleted by reaction');
      return;
    case 'cancel':
      return;
    case 'job': {
      // Like the deliverer's channel posts: a retried post, or the same reaction replayed by the
      // gateway (one event id per minute), gets the message already made back instead of a second.
      const status = (await rest.post(`/channels/${channelId}/messages`, {
        body: {
          content: `**${quotePrompt(outcome.payload.params.prompt)}** — ${outcome.summary} for <@${user.id}>\nQueueing…`,
          message_reference: { message_id: message.id, fail_if_not_exists: false },
          allowed_mentions: { parse: [] },
          nonce: nonceFor(origin.eventId!, 'reaction-status'),
          enforce_nonce: true,
        },
      })) as APIMessage;
      const payload = { ...outcome.payload, origin: { ...outcome.payload.origin, messageId: status.id } };
      await enqueueAndShow(rt, {
        payload,
        dedupeId: outcome.dedupeId,
        warnings: outcome.warnings,
        showQueued: async (rendered) => {
          const shown = (await rest.patch(`/channels/${channelId}/messages/${status.id}`, { body: { content: rendered.content, components: rendered.components, allowed_mentions: { parse: [] } } })) as APIMessage;
          return { channelId: shown.channel_id, messageId: shown.id, via: 'channel' };
        },
        duplicate: async (jobId) => {
          // The nonce usually hands a replay the first delivery's own message, which shows the job: keep that one.
          const [first, shown] = await Promise.all([rt.jobPayload?.(jobId), jobMessage(rt.kv, jobId)]);
          if (first?.origin.messageId === status.id || shown?.messageId === status.id) return;
          await rest.delete(`/channels/${channelId}/messages/${status.id}`).catch(() => undefined);
        },
        // No ephemeral messages without an interaction: the refusal replaces the status message.
        refuse: async (text) => {
          await rest.patch(`/channels/${channelId}/messages/${status.id}`, { body: { content: `<@${user.id}> ${text}`, components: [], allowed_mentions: { users: [user.id] } } });
        },
      });
      return;
    }
  }
}
