/**
 * Remix, Custom Zoom and Vary (Region) on Discord (commands/edit-forms.ts):
 *  - Remix and Custom Zoom answer the press with a modal (its custom_id is the button's own
 *    action id, so the submission names the result and image); the submission is deferred like
 *    a press and makes its job in the result's channel;
 *  - Vary (Region) answers the presser alone (ephemeral) with a link to the web editor for that
 *    result and image (src/edit-links.ts).
 * A modal must be the interaction's first answer, so these presses are looked up before any
 * acknowledgement; a Redis read fits Discord's 3 seconds easily.
 */
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, MessageFlags, ModalBuilder, TextInputBuilder, TextInputStyle, type ButtonInteraction, type ModalSubmitInteraction } from 'discord.js';
import { commandContext } from '../../commands/context.ts';
import { decodeFormId, MAX_FORM_TEXT, pressStep, PROMPT_FIELD, submitForm, type EditForm } from '../../commands/edit-forms.ts';
import type { ActionRef } from '../../src/actions.ts';
import { lookUpAction } from '../../commands/bot-services.ts';
import { editLinkUrl, LINK_TTL_S } from '../../src/edit-links.ts';
import type { BotRuntime } from './bot-context.ts';
import { startPressedJob } from './enqueue-job.ts';
import { originFromInteraction } from './origin.ts';
import { replaceWithEphemeral } from './replies.ts';

const NO_EDITOR = 'Vary (Region) needs the web editor, and this bot has no public address for it (PUBLIC_URL).';
const UNKNOWN_FORM = 'This form is from an older version of the bot and no longer works; press the button again.';

/** Discord's limits on a modal's title and a text input's label. */
const MAX_TITLE = 45;
const MAX_LABEL = 45;

export function editModal(form: EditForm): ModalBuilder {
  const input = new TextInputBuilder()
    .setCustomId(PROMPT_FIELD)
    .setLabel(form.label.slice(0, MAX_LABEL))
    .setStyle(TextInputStyle.Paragraph)
    .setRequired(true)
    .setMaxLength(MAX_FORM_TEXT)
    .setPlaceholder(form.hint.slice(0, 100))
    .setValue(form.value.slice(0, MAX_FORM_TEXT));
  return new ModalBuilder()
    .setCustomId(form.id)
    .setTitle(form.title.slice(0, MAX_TITLE))
    .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input));
}

/** Handles the press when it is one of the edit buttons that answer first; false for any other. */
export async function handleEditPress(rt: BotRuntime, interaction: ButtonInteraction, ref: ActionRef): Promise<boolean> {
  if (ref.action !== 'remix' && ref.action !== 'zoom-custom' && ref.action !== 'vary-region') return false;
  const origin = originFromInteraction(interaction);
  const facts = await lookUpAction(rt, ref, origin.userId);
  const step = pressStep(ref, facts, commandContext(rt, origin), interaction.message.id)!;
  switch (step.kind) {
    case 'message':
      await replaceWithEphemeral(interaction, step.message);
      return true;
    case 'form':
      await interaction.showModal(editModal(step.form));
      return true;
    case 'region-editor': {
      if (!rt.editLinks || !rt.config.PUBLIC_URL) {
        await replaceWithEphemeral(interaction, NO_EDITOR);
        return true;
      }
      const url = editLinkUrl(rt.config.PUBLIC_URL, await rt.editLinks.create(step.resultId, step.index, origin));
      const minutes = Math.round(LINK_TTL_S / 60);
      await interaction.reply({
        content: `Draw the region of image ${step.index + 1} to repaint, and change the prompt if you like; the result is posted here.\n${url}\n-# This link is yours alone, works once and expires in ${minutes} minutes.`,
        components: [new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setStyle(ButtonStyle.Link).setLabel('Open the region editor').setURL(url)).toJSON()],
        flags: MessageFlags.Ephemeral,
        allowedMentions: { parse: [] },
      });
      rt.logger.info({ resultId: step.resultId, by: origin.userId }, 'discord region editor link sent');
      return true;
    }
  }
}

/** A submitted Remix or Custom Zoom modal: deferred like a press, then the job (or why not, privately). */
export async function handleModalSubmit(rt: BotRuntime, interaction: ModalSubmitInteraction): Promise<void> {
  const ref = decodeFormId(interaction.customId);
  if (!ref || !interaction.isFromMessage()) {
    await interaction.reply({ content: UNKNOWN_FORM, flags: MessageFlags.Ephemeral });
    return;
  }
  await interaction.deferUpdate();
  const origin = originFromInteraction(interaction);
  const facts = await lookUpAction(rt, ref, origin.userId);
  const outcome = submitForm(ref, interaction.fields.getTextInputValue(PROMPT_FIELD), facts, commandContext(rt, origin), interaction.message.id);
  if (outcome.kind === 'job') return startPressedJob(rt, interaction, outcome);
  await replaceWithEphemeral(interaction, outcome.kind === 'message' ? outcome.message : UNKNOWN_FORM);
}
