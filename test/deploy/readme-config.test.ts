/**
 * The README's configuration table against the config schema: every variable the schema reads
 * is listed once, nothing else is, and each default shown is the schema's own. Also: the test
 * command the README gives is exactly what CI runs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/config.ts';
import { envSchema } from '../../src/root/config.ts';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');

function section(start: string, end: string): string {
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} section`);
  return readme.slice(from + start.length, to);
}

/** A schema default as the README writes it. */
function shown(name: string, value: unknown): string {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return '—';
  if (typeof value === 'boolean') return `\`${value ? 1 : 0}\``;
  if (name === 'ARTIFACT_DIR') return `\`${path.relative(REPO_ROOT, String(value))}\``;
  return `\`${String(value)}\``;
}

describe('README configuration reference', () => {
  const rows = section('<!-- config:start -->', '<!-- config:end -->')
    .split('\n')
    .map((line) => /^\| `([A-Z0-9_]+)` \| (.+?) \| (.+) \|$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1], default: m[2], meaning: m[3] }));
  const defaults = envSchema.parse({}) as Record<string, unknown>;

  it('lists every variable of the schema exactly once, and nothing else', () => {
    const names = rows.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });

  it("shows each variable's default as the schema has it", () => {
    for (const row of rows) expect(`${row.name}: ${row.default}`).toBe(`${row.name}: ${shown(row.name, defaults[row.name])}`);
    expect(rows.every((r) => r.meaning.trim().length > 10)).toBe(true);
  });
});

describe('README test command', () => {
  it('is `npm test`, the command .ci/run ends with', () => {
    const block = /## Test it\n\n```sh\n([^\n]*)\n```/.exec(readme);
    expect(block?.[1]).toBe('npm test');
    const ci = readFileSync(path.join(REPO_ROOT, '.ci/run'), 'utf8').trim().split('\n');
    expect(ci[ci.length - 1]).toBe('npm test');
    const run = /## Run it\n\n```sh\n([^\n]*)\n```/.exec(readme);
    expect(run?.[1]).toBe('npm ci && npm start');
  });
});
