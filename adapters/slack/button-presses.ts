/**
 * Buttons on result, status and failure messages (block_actions). Everything a press needs is
 * in its action_id (action + result or job id + image) and in Redis, so buttons keep working
 * after any restart of the bot. The press is acknowledged before Redis is touched; refusals
 * (press policy, expired results) are chat.postEphemeral explanations to the presser; a new
 * job gets its own status message in the result's thread.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { commandContext } from '../../commands/context.ts';
import { pressStep } from '../../commands/edit-forms.ts';
import { decideAction } from '../../commands/result-action.ts';
import { decodeAction } from '../../src/actions.ts';
import { lookUpAction } from '../../commands/bot-services.ts';
import type { Origin } from '../../src/jobs.ts';
import type { SlackRuntime } from './bot-context.ts';
import { answerEditPress, pressPlace } from './edit-forms.ts';
import { renderNotice } from './render.ts';
import { cancelJobs, removeResult } from './result-actions.ts';
import { startJob } from './start-job.ts';
import { statusMessage } from './state.ts';

const UNKNOWN_BUTTON = 'This button is from an older version of the bot and no longer works; run /imagine again.';

/** Bolt routes only the action ids this version makes (src/actions.ts) here. */
export const ACTION_ID_PATTERN = /^im1:/;

export function pressOrigin(body: BlockAction, action: ButtonAction): Origin {
  const messageTs = body.container?.message_ts ?? body.message?.ts ?? '';
  return {
    platform: 'slack',
    ...(body.team?.id ? { workspaceId: body.team.id } : body.user.team_id ? { workspaceId: body.user.team_id } : {}),
    channelId: body.channel?.id ?? body.container?.channel_id,
    userId: body.user.id,
    ...(body.user.username || body.user.name ? { userName: (body.user.username ?? body.user.name)!.slice(0, 100) } : {}),
    // A press is one event: the message, the button and Slack's timestamp of the press.
    eventId: `act:${messageTs}:${action.action_ts}:${body.user.id}`.slice(0, 128),
  };
}

export function registerButtonPresses(app: App, rt: SlackRuntime): void {
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: ACTION_ID_PATTERN }, async ({ ack, body, action }) => {
    await ack();
    const origin = pressOrigin(body, action);
    const channel = origin.channelId;
    const pressed = body.message?.ts ?? body.container?.message_ts;
    const threadTs = (body.message?.thread_ts as string | undefined) ?? body.container?.thread_ts ?? pressed;
    const tell = (text: string) => rt.api.postEphemeral(channel, origin.userId, renderNotice(text), threadTs);

    const ref = decodeAction(action.action_id);
    if (!ref) return tell(UNKNOWN_BUTTON);
    // The action_id names the target; the press counts only on the message that shows it.
    const facts = await lookUpAction(rt, ref, origin.userId, async (jobId, payload) => (await statusMessage(rt.kv, jobId))?.ts ?? payload?.origin.messageId ?? null);
    const ctx = commandContext(rt, origin);
    // Remix, Custom Zoom and Vary (Region) ask first: a modal, or a private link to the editor.
    const step = pressStep(ref, facts, ctx, pressed ?? '');
    if (step) {
      const reply = { channel, user: origin.userId, threadTs, ...(body.response_url ? { responseUrl: body.response_url } : {}) };
      return answerEditPress(rt, step, { triggerId: body.trigger_id, place: pressPlace(body, channel), origin: { ...origin, threadId: threadTs }, reply });
    }
    const outcome = decideAction(ref, facts, ctx, pressed ?? '');
    switch (outcome.kind) {
      case 'message':
        return tell(outcome.message);
      case 'delete':
        // decideAction checked that the pressed message is the result's own.
        return removeResult(rt, outcome.resultId, { channel, ts: pressed! });
      case 'cancel': {
        const notes = await cancelJobs(rt, outcome.jobIds, origin.userId, facts.jobs ?? []);
        return tell(notes.length > 0 ? notes.join('\n') : outcome.summary);
      }
      case 'job':
        await startJob(rt, { outcome, threadTs, pressResponseUrl: body.response_url });
        return;
    }
  });
}
