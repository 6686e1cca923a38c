/**
 * reaction_added on a result message: a mapped emoji (reactions.ts) starts the same job as the
 * matching button, posted in the result's thread. Slack redelivers events it believes were
 * missed (X-Slack-Retry-Num); each event_id is handled once (SET NX in Redis), and the queue's
 * dedupe on the same id guards the enqueue as well. Reactions on anything that is not one of
 * our results are ignored silently: people react to messages all the time.
 */
import type { App } from '@slack/bolt';
import { commandContext } from '../../commands/context.ts';
import { reactionActionRef, type ReactionAction } from '../../commands/reaction-map.ts';
import { decideAction } from '../../commands/result-action.ts';
import type { Origin } from '../../src/jobs.ts';
import type { SlackRuntime } from './bot-context.ts';
import { renderNotice } from './render.ts';
import { removeResult } from './result-actions.ts';
import { startJob } from './start-job.ts';
import { firstDelivery, forgetDelivery } from './state.ts';

export interface ReactionAddedEvent {
  user: string;
  reaction: string;
  item: { type: string; channel?: string; ts?: string };
}

export function registerReactions(app: App, rt: SlackRuntime): void {
  app.event('reaction_added', async ({ event, body }) => {
    const e = event as ReactionAddedEvent;
    const mapped = rt.reactions.get(e.reaction);
    if (!mapped || e.item.type !== 'message' || !e.item.channel || !e.item.ts) return;
    const eventId = (body as { event_id?: string }).event_id ?? `${e.item.channel}:${e.item.ts}:${e.user}:${e.reaction}`;
    if (!(await firstDelivery(rt.kv, eventId))) {
      rt.logger.debug({ eventId }, 'slack event already handled');
      return;
    }
    try {
      await handleReaction(rt, e, mapped, eventId, (body as { team_id?: string }).team_id);
    } catch (err) {
      // Nothing visible happened (or the queue's dedupe will catch it): let Slack's redelivery try again.
      await forgetDelivery(rt.kv, eventId).catch(() => undefined);
      throw err;
    }
  });
}

async function handleReaction(rt: SlackRuntime, e: ReactionAddedEvent, mapped: ReactionAction, eventId: string, teamId: string | undefined): Promise<void> {
  const channel = e.item.channel!;
  const messageTs = e.item.ts!;
  const result = await rt.results.getByMessage('slack', messageTs);
  if (!result || result.origin.channelId !== channel) return;
  const origin: Origin = { platform: 'slack', ...(teamId ? { workspaceId: teamId } : {}), channelId: channel, userId: e.user, eventId: `evt:${eventId}`.slice(0, 128) };
  const threadTs = result.origin.threadId ?? messageTs;
  const outcome = decideAction(reactionActionRef(mapped, result.resultId), { result }, commandContext(rt, origin));
  switch (outcome.kind) {
    case 'message':
      await rt.api.postEphemeral(channel, e.user, renderNotice(outcome.message), threadTs);
      return;
    case 'delete':
      await removeResult(rt, outcome.resultId, { channel, ts: messageTs });
      return;
    case 'cancel':
      return;
    case 'job':
      await startJob(rt, { outcome, threadTs });
      return;
  }
}
