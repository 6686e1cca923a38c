/** /help: the commands, every flag with this installation's limits, the buttons and the models. */
import type { CommandContext, MessageOutcome } from './context.ts';
import { COMMANDS, BUTTONS } from './command-list.ts';
import { LANGUAGE_RULES } from './language-rules.ts';
import { optionRows } from './option-reference.ts';

export function helpText(ctx: Pick<CommandContext, 'limits' | 'models'>): string {
  const rows = optionRows(ctx.limits, ctx.models.names()).filter((r) => r.inline);
  const models = ctx.models.names().map((n) => (n === ctx.models.defaultModel.name ? `${n} (default)` : n));
  return [
    ...COMMANDS.map((c) => `\`${c.usage}\` ${c.description}`),
    '',
    ...LANGUAGE_RULES.map((r) => `• ${r}`),
    '',
    // Help shows live limits, so the env-variable names the README adds are left out here.
    ...rows.map((r) => `\`${r.inline}\`${r.aliases.map((a) => ` or \`${a}\``).join('')} ${r.description} Range: ${r.range.replace(/ \([A-Z_]+\)$/, '')}. Default: ${r.default}.`),
    '',
    `Buttons: ${BUTTONS.map((b) => `${b.label} ${b.description.replace(/\.$/, '')}`).join(' · ')}.`,
    `Models: ${models.join(', ')}.`,
  ].join('\n');
}

export function help(ctx: Pick<CommandContext, 'limits' | 'models'>): MessageOutcome {
  return { kind: 'message', message: helpText(ctx), ephemeral: true, code: 'help' };
}
