/** The README's commands reference is generated from the option schema; this fails when they drift. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';
import { commandsReference, currentCommandsReference, withCommandsReference } from '../../commands/readme-table.ts';
import { OPTION_DOCS } from '../../commands/options-schema.ts';

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

describe('README commands reference', () => {
  it('equals the generated one (run `npm run docs:commands` after changing options)', () => {
    expect(currentCommandsReference(readme)).toBe(commandsReference());
  });

  it('has a row for every option with its range and default', () => {
    const generated = commandsReference();
    for (const [name, doc] of Object.entries(OPTION_DOCS)) expect(generated).toContain(`| \`${name}\` | \`--${doc.flag} ${doc.value}\``);
    expect(generated).toContain('| `seed` | `--seed N` | 0–4294967295 | random |');
    expect(generated).toContain('| `steps` | `--steps N` | 1–50 (MAX_STEPS) |');
    expect(generated).toContain('| `cfg` | `--cfg X`, also `--guidance` | 0–30 (decimals allowed) |');
    expect(generated).toContain('16:9 → 704x384');
  });

  it('rewriting is idempotent and leaves the rest of the README alone', () => {
    expect(withCommandsReference(readme)).toBe(readme);
    const other = 'intro\n<!-- commands:start -->\nstale\n<!-- commands:end -->\nmore';
    expect(withCommandsReference(other)).toBe(`intro\n<!-- commands:start -->\n${commandsReference()}\n<!-- commands:end -->\nmore`);
    expect(() => withCommandsReference('no markers')).toThrow('README needs <!-- commands:start -->');
  });
});
