/**
 * /imagine. Order matters because Discord gives 3 seconds to acknowledge:
 *   1. parse and validate (pure, no I/O): bad input is answered at once, ephemerally;
 *   2. defer the reply (the acknowledgement) before any Redis or network work;
 *   3. enqueue (an attached start image is fetched and stored once the queue has reserved the
 *      job's slot, never for a refused job) and edit the reply to show the queue position.
 */
import { MessageFlags, type ChatInputCommandInteraction } from 'discord.js';
import { commandContext } from '../../commands/context.ts';
import { imagine } from '../../commands/imagine.ts';
import type { StructuredOptions } from '../../commands/options-schema.ts';
import type { JobPayload } from '../../src/jobs.ts';
import type { BotRuntime } from './bot-context.ts';
import { enqueueFromInteraction } from './enqueue-job.ts';
import { precheckAttachment, storeInitImage, type AttachmentInfo } from './init-image.ts';
import { originFromInteraction } from './origin.ts';
import { replaceWithEphemeral } from './replies.ts';
import { IMAGINE_OPTION_MAP } from './slash-commands.ts';

/** Stands in for the start image's artifact key until the queue's prepare step has stored the image (see below). */
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

  // The attachment is fetched and stored only once the queue has reserved the job's slot (a refused job costs nothing).
  const prepare = image
    ? async (payload: JobPayload): Promise<JobPayload> => {
        if (payload.kind !== 'txt2img' || !payload.initImage) return payload;
        const artifactKey = await storeInitImage(rt.artifacts, image, interaction.id);
        return { ...payload, initImage: { ...payload.initImage, artifactKey } };
      }
    : undefined;
  await enqueueFromInteraction(rt, interaction, { payload: outcome.payload, dedupeId: outcome.dedupeId, warnings: outcome.warnings }, {
    prepare,
    refuse: (message) => replaceWithEphemeral(interaction, message),
  });
}
