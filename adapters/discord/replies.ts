/** Answering an interaction ephemerally, whatever state its reply is in. */
import { MessageFlags, type RepliableInteraction } from 'discord.js';

/**
 * Say something only the user sees. Before any acknowledgement that is the reply itself; after
 * a public deferReply, the "thinking…" placeholder is removed first so the refusal does not sit
 * in the channel for everyone; after a deferUpdate, it is an ephemeral follow-up.
 */
export async function replaceWithEphemeral(interaction: RepliableInteraction, content: string): Promise<void> {
  if (!interaction.deferred && !interaction.replied) {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    return;
  }
  if (interaction.deferred && interaction.ephemeral) {
    await interaction.editReply({ content, allowedMentions: { parse: [] } });
    return;
  }
  // A deferred update (a button, or a modal opened from one) has no placeholder: its @original is the pressed message itself.
  const deferredUpdate = interaction.isMessageComponent() || (interaction.isModalSubmit() && interaction.isFromMessage());
  if (interaction.deferred && !deferredUpdate) {
    await interaction.deleteReply().catch(() => undefined);
  }
  await interaction.followUp({ content, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
}
