/** Help: every flag with this installation's limits, the precedence rule, the buttons and the models. */
import { describe, expect, it } from 'vitest';
import { help, helpText } from '../../commands/help.ts';
import { OPTION_DOCS } from '../../commands/options-schema.ts';
import { context } from '../support/command-context.ts';

describe('help', () => {
  it('lists every flag with this installation\'s limits, the precedence rule, buttons and models', () => {
    const text = helpText(context({ env: { MAX_STEPS: '30', ALLOWED_SAMPLERS: 'euler,ddim' } }));
    for (const doc of Object.values(OPTION_DOCS)) expect(text).toContain(`\`--${doc.flag} ${doc.value}\``);
    expect(text).toContain('`--cfg X` or `--guidance`');
    expect(text).toContain('Range: 1–30. Default:');
    expect(text).toContain('Range: euler, ddim.');
    expect(text).toContain('Options filled in the command’s own fields win over the same flag typed in the prompt.');
    expect(text).toContain('U1–U4 Upscale that image ×2');
    expect(text).toContain('Models: sd15 (default), tiny.');
    expect(text).not.toContain('MAX_STEPS');
    expect(help(context())).toEqual({ kind: 'message', ephemeral: true, code: 'help', message: helpText(context()) });
  });
});
