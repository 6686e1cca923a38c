/**
 * Requests as Slack sends them to an app (slash command fields, block_actions payloads,
 * Events API callbacks), addressed to a fake Slack's users and channels. Signing and posting
 * them is slack-signing.ts's job.
 */
import { randomBytes } from 'node:crypto';
import type { FakeSlack, FakeSlackMessage, FakeSlackView } from './fake-slack.ts';

export const CHANNEL = 'C0IMAGINE';
export const ALICE = 'U0ALICE';
export const BOB = 'U0BOB';
export const SIGNING_SECRET = 'test-signing-secret-0123456789';

let seq = 0;
const slackTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;

/** The fields of a slash command as Slack sends them (form fields over HTTP, the payload over Socket Mode). */
export function slashPayload(fake: FakeSlack, text: string, o: { user?: string; channel?: string } = {}): { fields: Record<string, string>; responseUrl: string } {
  const user = o.user ?? ALICE;
  const channel = o.channel ?? CHANNEL;
  const responseUrl = fake.newResponseUrl(channel, user);
  const fields = {
    token: 'legacy-verification-token',
    team_id: fake.teamId,
    team_domain: 'fake',
    channel_id: channel,
    channel_name: 'imagine',
    user_id: user,
    user_name: user.toLowerCase(),
    command: '/imagine',
    text,
    api_app_id: 'A0IMAGINE',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
  };
  return { fields, responseUrl };
}

/** A block_actions payload for pressing the button labelled `label` on a message. */
export function pressPayload(fake: FakeSlack, message: FakeSlackMessage, label: string, o: { user?: string } = {}): { payload: Record<string, unknown>; responseUrl: string } {
  const user = o.user ?? ALICE;
  const button = (message.blocks ?? [])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements.map((e: any) => ({ ...e, block_id: b.block_id })))
    .find((e: any) => e.text.text === label);
  if (!button) throw new Error(`no button ${label} on message ${message.ts}`);
  const responseUrl = fake.newResponseUrl(message.channel, user);
  const payload = {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: fake.teamId },
    api_app_id: 'A0IMAGINE',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, ...(message.thread_ts ? { thread_ts: message.thread_ts } : {}) },
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    team: { id: fake.teamId, domain: 'fake' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: message.channel, name: 'imagine' },
    message: { type: 'message', ts: message.ts, thread_ts: message.thread_ts, bot_id: fake.botId, text: message.text, blocks: message.blocks },
    state: { values: {} },
    response_url: responseUrl,
    actions: [{ type: 'button', action_id: button.action_id, block_id: button.block_id, text: button.text, value: button.value, action_ts: slackTs() }],
  };
  return { payload, responseUrl };
}

/** An Events API reaction_added callback. */
export function reactionPayload(fake: FakeSlack, message: FakeSlackMessage, reaction: string, o: { user?: string; eventId?: string } = {}): { body: Record<string, unknown>; eventId: string } {
  const eventId = o.eventId ?? `Ev${randomBytes(5).toString('hex').toUpperCase()}`;
  const body = {
    token: 'legacy-verification-token',
    team_id: fake.teamId,
    api_app_id: 'A0IMAGINE',
    event: { type: 'reaction_added', user: o.user ?? ALICE, reaction, item: { type: 'message', channel: message.channel, ts: message.ts }, item_user: fake.botUserId, event_ts: slackTs() },
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ enterprise_id: null, team_id: fake.teamId, user_id: fake.botUserId, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  };
  return { body, eventId };
}

/**
 * A view_submission payload for a modal the app opened (views.open), as Slack sends it when the
 * person presses the modal's submit button: every input's value, by block and action id. Inputs
 * keep their initial_value unless `values` (by action_id) says what was typed instead.
 */
export function viewSubmissionPayload(fake: FakeSlack, opened: FakeSlackView, values: Record<string, string> = {}, o: { user?: string } = {}): Record<string, unknown> {
  const user = o.user ?? ALICE;
  const view = opened.view;
  const state: Record<string, Record<string, { type: string; value: string | null }>> = {};
  for (const block of view.blocks.filter((b: any) => b.type === 'input')) {
    const actionId = block.element.action_id;
    const value = values[actionId] ?? block.element.initial_value ?? null;
    state[block.block_id] = { [actionId]: { type: block.element.type, value } };
  }
  return {
    type: 'view_submission',
    team: { id: fake.teamId, domain: 'fake' },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: fake.teamId },
    api_app_id: 'A0IMAGINE',
    token: 'legacy-verification-token',
    trigger_id: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    view: {
      ...view,
      id: opened.id,
      team_id: fake.teamId,
      state: { values: state },
      hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
      previous_view_id: null,
      root_view_id: opened.id,
      app_id: 'A0IMAGINE',
      bot_id: fake.botId,
    },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}
