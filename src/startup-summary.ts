/**
 * The lines a process prints when it has started: what runs, where jobs go, which model and
 * execution provider, and where the playground is. Built from the AppSummary only, which holds
 * no secret (the Redis URL is already stripped of credentials).
 */
import path from 'node:path';
import type { AppSummary } from './app.ts';
import { REPO_ROOT } from './config.ts';
import { safetyCheckerFile } from '../worker/diffusion/model-folder.ts';

function shortDir(dir: string): string {
  const rel = path.relative(REPO_ROOT, dir);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : dir;
}

export function summaryLines(s: AppSummary): string[] {
  const lines = [`imagine-bot is running (role ${s.role})`];
  if (s.role !== 'worker') lines.push(`  adapters:  ${s.adapters.join(', ')}`);
  lines.push(`  queue:     ${s.queue}`);
  if (s.role !== 'bot') {
    const checked = (dir: string) => (safetyCheckerFile(dir) ? ', safety checker' : '');
    const models = s.models.map((m) => `${m.name}${m.isDefault && s.models.length > 1 ? ' (default)' : ''} (${shortDir(m.dir)}${checked(m.dir)})`);
    lines.push(`  model:     ${models.join(', ')}`);
    const requested = s.providersRequested?.join(',') ?? 'cpu';
    lines.push(`  provider:  ${s.providerInUse ?? 'not loaded yet'} (asked for ${requested})`);
  }
  lines.push(`  health:    http://localhost:${s.port}/healthz, /readyz, /metrics`);
  for (const w of s.warnings) lines.push(`  warning:   ${w}`);
  if (s.playgroundUrl) lines.push('', `  Open the playground: ${s.playgroundUrl}`, '');
  return lines;
}
