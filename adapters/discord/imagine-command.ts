/**
 * /imagine. Order matters because Discord gives 3 seconds to acknowledge:
 *   1. parse and validate (pure, no I/O): bad input is answered at once, ephemerally;
 *   2. defer the reply (the acknowledgement) before any Redis or network work;
 *   3. fetch an attached start image, enqueue, and edit the reply to show the queue position.
 */
import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { commandContext } from '../../commands/context.ts';
import { imagine } from '../../commands/imagine.ts';
import type { StructuredOptions } from '../../commands/options-schema.ts';
import { txt2imgJobSchema } from '../../src/jobs.ts';
import type { BotRuntime } from './bot-context.ts';
import { enqueueFromInteraction } from './enqueue-job.ts';
import { InitImageError, precheckAttachment, storeInitImage, type AttachmentInfo } from './init-image.ts';
import { originFromInteraction } from './origin.ts';
import { replaceWithEphemeral } from './replies.ts';
import { IMAGINE_OPTION_MAP } from './slash-commands.ts';

/** Stands in for the start image's artifact key while validating, before anything is stored. */
const PENDING_IMAGE_KEY = 'uploads/pending';

export function structuredOptions(interaction: ChatInputCommandInteraction): StructuredOptions {
  const out: StructuredOptions = {};
  for (const [discordName, option] of Object.entries(IMAGINE_OPTION_MAP)) {
    const value = interaction.options.get(discordName)?.value;
    if (typeof value === 'string' || typeof value === 'number') out[option] = value;
  }
  return out;
}

export async function handleImagine(rt: BotRuntime, interaction: ChatInputCommandInteraction): Promise<void> {
  const origin = originFromInteraction(interaction);
  const text = interaction.options.getString('prompt', true);
  const attachment = interaction.options.getAttachment('image');
  const image: AttachmentInfo | null = attachment
    ? { id: attachment.id, name: attachment.name, url: attachment.url, size: attachment.size, contentType: attachment.contentType, width: attachment.width, height: attachment.height }
    : null;

  const precheck = image ? precheckAttachment(image) : null;
  if (precheck) {
    await interaction.reply({ content: precheck, flags: MessageFlags.Ephemeral });
    return;
  }
  const ctx = commandContext(rt, origin);
  const outcome = imagine({ text, options: structuredOptions(interaction), ...(image ? { initImage: { artifactKey: PENDING_IMAGE_KEY } } : {}) }, ctx);
  if (outcome.kind === 'message') {
    await interaction.reply({ content: outcome.message, flags: MessageFlags.Ephemeral, allowedMentions: { parse: [] } });
    return;
  }
  if (outcome.kind !== 'job') throw new Error(`imagine answered ${outcome.kind}`);

  await interaction.deferReply();

  let payload = outcome.payload;
  if (image && payload.kind === 'txt2img' && payload.initImage) {
    try {
      const artifactKey = await storeInitImage(rt.artifacts, image, interaction.id);
      payload = txt2imgJobSchema.parse({ ...payload, initImage: { ...payload.initImage, artifactKey } });
    } catch (err) {
      if (!(err instanceof InitImageError)) throw err;
      await replaceWithEphemeral(interaction, err.message);
      return;
    }
  }
  await enqueueFromInteraction(rt, interaction, { payload, dedupeId: outcome.dedupeId, warnings: outcome.warnings }, { refuse: (message) => replaceWithEphemeral(interaction, message) });
}
