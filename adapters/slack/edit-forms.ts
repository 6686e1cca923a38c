/**
 * Remix, Custom Zoom and Vary (Region) on Slack (commands/edit-forms.ts):
 *  - Remix and Custom Zoom open a modal through views.open with the press's trigger_id; its
 *    callback_id is the button's own action id (so the submission names the result and image),
 *    and its private_metadata the pressed message and thread, which Slack hands back unchanged
 *    with the submission. A submission that cannot make a job is answered in the modal itself
 *    (response_action errors under the field); one that can closes it and starts the job in the
 *    result's thread;
 *  - Vary (Region) answers the presser alone (response_url, else chat.postEphemeral) with a link
 *    to the web editor for that result and image (src/edit-links.ts).
 */
import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import { commandContext } from '../../commands/context.ts';
import { decodeFormId, PROMPT_FIELD, submitForm, type EditForm, type PressStep } from '../../commands/edit-forms.ts';
import { lookUpAction } from '../../commands/bot-services.ts';
import { editLinkUrl, LINK_TTL_S } from '../../src/edit-links.ts';
import type { Origin } from '../../src/jobs.ts';
import type { SlackRuntime } from './bot-context.ts';
import { replyEphemeral, type ReplyTarget } from './replies.ts';
import { Mrkdwn, mrkdwn } from './slack-text.ts';
import { startJob } from './start-job.ts';

/** Slack's limits: a modal title and submit label 24 characters, a text input's value 3000. */
const MAX_TITLE = 24;
const MAX_INPUT = 3000;
const NO_EDITOR = 'Vary (Region) needs the web editor, and this bot has no public address for it (PUBLIC_URL).';
const UNKNOWN_FORM = 'This form is from an older version of the bot and no longer works; press the button again.';

/** The callback ids of this version's forms (their buttons' action ids, src/actions.ts). */
const FORM_ID_PATTERN = /^im1:/;

/** What the modal carries back: where the button was pressed. */
interface FormPlace {
  channel: string;
  /** The pressed message (the result). */
  ts: string;
  threadTs?: string;
}

export function editModalView(form: EditForm, place: FormPlace): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: form.id,
    private_metadata: JSON.stringify(place),
    title: { type: 'plain_text', text: form.title.slice(0, MAX_TITLE) },
    submit: { type: 'plain_text', text: form.submit.slice(0, MAX_TITLE) },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: [
      {
        type: 'input',
        block_id: PROMPT_FIELD,
        label: { type: 'plain_text', text: form.label },
        hint: { type: 'plain_text', text: form.hint },
        element: { type: 'plain_text_input', action_id: PROMPT_FIELD, multiline: true, max_length: MAX_INPUT, initial_value: form.value.slice(0, MAX_INPUT) },
      },
    ],
  };
}

/** The answer to a form or editor press (commands/edit-forms.ts pressStep). */
export async function answerEditPress(rt: SlackRuntime, step: PressStep, press: { triggerId: string; place: FormPlace; origin: Origin; reply: ReplyTarget }): Promise<void> {
  switch (step.kind) {
    case 'message':
      return replyEphemeral(rt, press.reply, step.message);
    case 'form':
      return rt.api.openView(press.triggerId, editModalView(step.form, press.place));
    case 'region-editor': {
      if (!rt.editLinks || !rt.config.PUBLIC_URL) return replyEphemeral(rt, press.reply, NO_EDITOR);
      const url = editLinkUrl(rt.config.PUBLIC_URL, await rt.editLinks.create(step.resultId, step.index, press.origin));
      const minutes = Math.round(LINK_TTL_S / 60);
      await replyEphemeral(
        rt,
        press.reply,
        mrkdwn`Draw the region of image ${step.index + 1} to repaint, and change the prompt if you like; the result is posted in this thread.\n${linkTo(url)}\nThis link is yours alone, works once and expires in ${minutes} minutes.`,
      );
      rt.logger.info({ resultId: step.resultId, by: press.origin.userId }, 'slack region editor link sent');
      return;
    }
  }
}

/** A link in mrkdwn: the address is PUBLIC_URL (checked at start) and a base64url token, with nothing to escape. */
const linkTo = (url: string) => new Mrkdwn(`<${url}|Open the region editor>`);

export function registerEditForms(app: App, rt: SlackRuntime): void {
  app.view<ViewSubmitAction>({ type: 'view_submission', callback_id: FORM_ID_PATTERN }, async ({ ack, body, view }) => {
    const ref = decodeFormId(view.callback_id);
    let place: FormPlace | null = null;
    try {
      place = JSON.parse(view.private_metadata) as FormPlace;
    } catch {
      place = null;
    }
    if (!ref || !place || typeof place.channel !== 'string' || typeof place.ts !== 'string') {
      await ack({ response_action: 'errors', errors: { [PROMPT_FIELD]: UNKNOWN_FORM } });
      return;
    }
    const origin: Origin = {
      platform: 'slack',
      ...(body.team?.id ? { workspaceId: body.team.id } : body.user.team_id ? { workspaceId: body.user.team_id } : {}),
      channelId: place.channel,
      userId: body.user.id,
      ...(body.user.name ? { userName: body.user.name.slice(0, 100) } : {}),
      // One submission of one view: a resubmission after errors has a new hash.
      eventId: `view:${view.id}:${view.hash}`.slice(0, 128),
    };
    const typed = view.state.values[PROMPT_FIELD]?.[PROMPT_FIELD]?.value ?? '';
    const facts = await lookUpAction(rt, ref, origin.userId);
    const outcome = submitForm(ref, typed, facts, commandContext(rt, origin), place.ts);
    if (outcome.kind !== 'job') {
      await ack({ response_action: 'errors', errors: { [PROMPT_FIELD]: outcome.kind === 'message' ? outcome.message : UNKNOWN_FORM } });
      return;
    }
    await ack();
    await startJob(rt, { outcome, threadTs: place.threadTs ?? place.ts });
  });
}

/** Where a press happened, for the modal to carry back. */
export function pressPlace(body: BlockAction<ButtonAction>, channel: string): FormPlace {
  const ts = body.message?.ts ?? body.container?.message_ts ?? '';
  const threadTs = (body.message?.thread_ts as string | undefined) ?? body.container?.thread_ts;
  return { channel, ts, ...(threadTs ? { threadTs } : {}) };
}
