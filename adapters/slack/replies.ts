/**
 * Ephemeral answers to one person: through the response_url Slack gave with the command or
 * press while it has uses left (response-url.ts counts them), else chat.postEphemeral.
 */
import type { SlackRuntime } from './bot-context.ts';
import { renderNotice } from './render.ts';
import type { Mrkdwn } from './slack-text.ts';

export interface ReplyTarget {
  channel: string;
  user: string;
  threadTs?: string;
  responseUrl?: string;
  /** Replace the command's earlier ephemeral answer (slash commands only; a press's "original" is the shared message). */
  replaceOriginal?: boolean;
}

export async function replyEphemeral(rt: SlackRuntime, target: ReplyTarget, text: string | Mrkdwn): Promise<void> {
  const message = renderNotice(text);
  if (target.responseUrl && (await rt.responses.send(target.responseUrl, { ...message, ephemeral: true, replaceOriginal: target.replaceOriginal ?? false }))) return;
  await rt.api.postEphemeral(target.channel, target.user, message, target.threadTs);
}
