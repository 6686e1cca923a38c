/**
 * /imagine. Slack wants an answer within 3 seconds, so the command is parsed (pure, no I/O)
 * and acknowledged before anything touches Redis or the Web API: bad input and /imagine help
 * are answered in the acknowledgement itself (ephemeral, nothing queued); a valid prompt is
 * acknowledged with "Queuing…", and start-job.ts then opens the thread, enqueues, and replaces
 * that ephemeral with the queue position through the response_url. `/imagine cancel` and
 * `/imagine queue` are acknowledged the same way and answered once Redis has (subcommands.ts).
 */
import type { App, SlashCommand } from '@slack/bolt';
import { slackCommandRules } from './command-rules.ts';
import { commandContext } from '../../commands/context.ts';
import { imagine } from '../../commands/imagine.ts';
import type { Origin } from '../../src/jobs.ts';
import type { SlackRuntime } from './bot-context.ts';
import { renderNotice } from './render.ts';
import { fromSlackText } from './slack-text.ts';
import { startJob } from './start-job.ts';
import { runCancel, runQueue, slackHelp, subcommandOf } from './subcommands.ts';

export const IMAGINE_COMMAND = '/imagine';

export function commandOrigin(command: Pick<SlashCommand, 'team_id' | 'channel_id' | 'user_id' | 'user_name' | 'trigger_id'>): Origin {
  return {
    platform: 'slack',
    workspaceId: command.team_id,
    channelId: command.channel_id,
    userId: command.user_id,
    ...(command.user_name ? { userName: command.user_name.slice(0, 100) } : {}),
    // trigger_id is unique per invocation: the queue's dedupe key.
    eventId: `cmd:${command.trigger_id}`.slice(0, 128),
  };
}

/** The acknowledgement's ephemeral answer, rendered (and escaped) like every other notice. */
const ephemeral = (text: string) => ({ response_type: 'ephemeral' as const, ...renderNotice(text) });

export function registerImagineCommand(app: App, rt: SlackRuntime): void {
  app.command(IMAGINE_COMMAND, async ({ command, ack }) => {
    const text = fromSlackText(command.text ?? '').trim();
    const origin = commandOrigin(command);
    const ctx = commandContext(rt, origin);
    const sub = subcommandOf(text);
    if (sub === 'help') {
      await ack(ephemeral(slackHelp(rt)));
      return;
    }
    if (sub) {
      await ack(ephemeral(sub === 'cancel' ? '⏳ Cancelling your jobs…' : '⏳ Looking at the queue…'));
      await (sub === 'cancel' ? runCancel : runQueue)(rt, origin, command.response_url);
      return;
    }
    const outcome = imagine({ text }, ctx);
    if (outcome.kind === 'message') {
      await ack(ephemeral(outcome.message));
      return;
    }
    if (outcome.kind !== 'job') {
      await ack(ephemeral(`That did not make a job; try ${slackCommandRules.helpCommand}.`));
      return;
    }
    await ack(ephemeral(`⏳ Queuing: ${outcome.summary}`));
    await startJob(rt, { outcome, commandResponseUrl: command.response_url });
  });
}
