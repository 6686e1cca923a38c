/**
 * The application commands the bot registers, built from configuration (limits, samplers,
 * models), and their registration: globally, or per guild when DISCORD_GUILD_IDS is set
 * (guild commands appear at once; global ones can take a while to reach every client).
 */
import type { REST } from '@discordjs/rest';
import type { CommandLimits } from '../../commands/context.ts';
import { MAX_ASPECT, MAX_GUIDANCE, MAX_PROMPT_CHARS, STRENGTH_MAX, STRENGTH_MIN } from '../../commands/options-schema.ts';
import { MAX_SEED } from '../../src/jobs.ts';

/** Discord's option types (API v10). */
export const OptionType = { String: 3, Integer: 4, Boolean: 5, Number: 10, Attachment: 11 } as const;

/** Discord allows at most 25 choices per option. */
const MAX_CHOICES = 25;

/** The ratios offered while typing the aspect option; any other W:H typed is accepted too. */
export const ASPECT_SUGGESTIONS = ['1:1', '4:3', '3:4', '3:2', '2:3', '16:9', '9:16', '21:9', '9:21'] as const;

/** Discord option name -> the command layer's option name. */
export const IMAGINE_OPTION_MAP = {
  negative: 'no',
  seed: 'seed',
  steps: 'steps',
  guidance: 'cfg',
  aspect: 'ar',
  count: 'n',
  sampler: 'sampler',
  model: 'model',
  strength: 'strength',
} as const;

export interface SlashCommandJSON {
  name: string;
  description: string;
  type: 1;
  options?: unknown[];
  /** Global commands only (see guildCommand). */
  contexts?: number[];
}

export function buildSlashCommands(limits: CommandLimits): SlashCommandJSON[] {
  const samplerChoices = limits.allowedSamplers.slice(0, MAX_CHOICES).map((s) => ({ name: s, value: s }));
  const imagine: SlashCommandJSON = {
    name: 'imagine',
    description: 'Draw images from a prompt (inline --flags work too)',
    type: 1,
    // Guilds (0) and the bot's DMs (1).
    contexts: [0, 1],
    options: [
      { type: OptionType.String, name: 'prompt', description: 'What to draw; may end with flags such as --ar 16:9 --seed 7', required: true, max_length: MAX_PROMPT_CHARS },
      { type: OptionType.String, name: 'negative', description: 'What to keep out of the image', max_length: MAX_PROMPT_CHARS },
      { type: OptionType.Integer, name: 'seed', description: 'Noise seed, to repeat an image', min_value: 0, max_value: MAX_SEED },
      { type: OptionType.Integer, name: 'steps', description: 'Denoising steps', min_value: 1, max_value: limits.maxSteps },
      { type: OptionType.Number, name: 'guidance', description: 'How strictly to follow the prompt (CFG scale)', min_value: 0, max_value: MAX_GUIDANCE },
      { type: OptionType.String, name: 'aspect', description: `Aspect ratio W:H, from 1:${MAX_ASPECT} to ${MAX_ASPECT}:1`, autocomplete: true, max_length: 11 },
      { type: OptionType.Integer, name: 'count', description: 'How many images', min_value: 1, max_value: limits.maxN },
      { type: OptionType.String, name: 'sampler', description: 'Sampler (scheduler)', choices: samplerChoices },
      { type: OptionType.String, name: 'model', description: 'Which model', autocomplete: true, max_length: 64 },
      { type: OptionType.Attachment, name: 'image', description: 'Start from this image (PNG, JPEG or WebP)' },
      { type: OptionType.Number, name: 'strength', description: 'With an image: how far to move from it', min_value: STRENGTH_MIN, max_value: STRENGTH_MAX },
    ],
  };
  return [
    imagine,
    { name: 'cancel', description: 'Cancel your queued and running /imagine jobs', type: 1, contexts: [0, 1] },
    { name: 'queue', description: 'Where your jobs are in the queue, and how busy it is', type: 1, contexts: [0, 1] },
    { name: 'help', description: 'How to use /imagine: flags, buttons and reactions', type: 1, contexts: [0, 1] },
  ];
}

/**
 * A command as registered in a guild: `contexts` (and `integration_types`) are fields of global
 * commands only in Discord's reference; a guild command exists in its guild and nowhere else.
 */
export function guildCommand({ contexts: _contexts, ...command }: SlashCommandJSON): Omit<SlashCommandJSON, 'contexts'> {
  return command;
}

/** Replace the application's commands (a bulk PUT is idempotent, so every start may do it). */
export async function registerSlashCommands(rest: REST, applicationId: string, guildIds: readonly string[], commands: SlashCommandJSON[]): Promise<void> {
  if (guildIds.length === 0) {
    await rest.put(`/applications/${applicationId}/commands`, { body: commands });
    return;
  }
  for (const guildId of guildIds) {
    await rest.put(`/applications/${applicationId}/guilds/${guildId}/commands`, { body: commands.map(guildCommand) });
  }
}

/** Autocomplete for the aspect option: the typed ratio first (when it looks like one), then matching suggestions. */
export function aspectChoices(typed: string): Array<{ name: string; value: string }> {
  const text = typed.trim();
  const out = new Set<string>();
  if (/^\d{1,4}\s*:\s*\d{1,4}$/.test(text)) out.add(text.replace(/\s+/g, ''));
  for (const s of ASPECT_SUGGESTIONS) if (s.startsWith(text) || text === '') out.add(s);
  return [...out].slice(0, MAX_CHOICES).map((v) => ({ name: v, value: v }));
}

/** Autocomplete for the model option: configured names containing what was typed. */
export function modelChoices(names: readonly string[], typed: string): Array<{ name: string; value: string }> {
  const text = typed.trim().toLowerCase();
  return names
    .filter((n) => n.includes(text))
    .slice(0, MAX_CHOICES)
    .map((n) => ({ name: n, value: n }));
}
