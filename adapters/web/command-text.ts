/**
 * A result's parameters written back as an `/imagine` command in the prompt language, for the
 * gallery's copy button: for a result made from a prompt, pasting it anywhere (web, Slack,
 * Discord) makes the same image with the same model; a variation's or upscale's line repeats
 * its prompt and settings only (view.ts copyLabel says which). The aspect ratio is the reduced width:height, which the size rule
 * snaps back to the same size on the same model; `--no` goes last because it takes every
 * word up to the next flag.
 */
import type { GenerationParams } from '../../src/jobs.ts';

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function commandText(p: GenerationParams): string {
  const g = gcd(p.width, p.height);
  const parts = [
    `/imagine ${p.prompt}`,
    `--ar ${p.width / g}:${p.height / g}`,
    `--seed ${p.seed}`,
    `--steps ${p.steps}`,
    `--cfg ${p.guidance}`,
    `--n ${p.n}`,
    `--sampler ${p.sampler}`,
    `--model ${p.model}`,
  ];
  if (p.negativePrompt.trim()) parts.push(`--no ${p.negativePrompt.trim()}`);
  return parts.join(' ');
}

export type WebCommand = { name: 'imagine' | 'help' | 'cancel'; rest: string } | { name: 'unknown'; rest: string; typed: string };

/**
 * What the playground's box accepts: `/imagine …`, `/help`, `/cancel`; text without a slash
 * command is taken as an /imagine prompt, as people type straight into a box like this.
 */
export function parseWebCommand(text: string): WebCommand {
  const trimmed = text.trim();
  const m = /^\/(\S+)(?:\s+([\s\S]*))?$/u.exec(trimmed);
  if (!m) return { name: 'imagine', rest: trimmed };
  const name = m[1].toLowerCase();
  const rest = (m[2] ?? '').trim();
  if (name === 'imagine' || name === 'help' || name === 'cancel') return { name, rest };
  return { name: 'unknown', rest, typed: m[1] };
}
