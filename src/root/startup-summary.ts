/**
 * The lines a process prints when it has started: what runs, where jobs go, which model and
 * execution provider, and where the playground is. Built from the AppSummary only, which holds
 * no secret (the Redis URL is already stripped of credentials).
 */
import path from 'node:path';
import type { AppSummary } from './app.ts';
import { REPO_ROOT } from '../config.ts';
import { hostForUrl, isWildcardAddress } from '../http-server.ts';
import { safetyCheckerFile } from '../../worker/diffusion/model-folder.ts';

function shortDir(dir: string): string {
  const rel = path.relative(REPO_ROOT, dir);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : dir;
}

/** Where the server takes connections from, in words: the bound address is what HOST made of it. */
function listening(address: string, port: number): string {
  const at = `${hostForUrl(address)}:${port}`;
  if (isWildcardAddress(address)) return `${at} (every interface: other machines can connect)`;
  if (address === '127.0.0.1' || address === '::1') return `${at} (this machine only; set HOST=0.0.0.0 to accept other machines)`;
  return at;
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
  lines.push(`  listening: ${listening(s.listenAddress, s.port)}`);
  lines.push(`  health:    ${s.localUrl}/healthz, /readyz, /metrics`);
  for (const w of s.warnings) lines.push(`  warning:   ${w}`);
  if (s.playgroundOff) lines.push(`  playground: off (${s.playgroundOff})`);
  if (s.playgroundUrl) lines.push('', `  Open the playground: ${s.playgroundUrl}${s.playgroundNeedsKey ? '/?key=<WEB_ACCESS_KEY>' : ''}`, '');
  return lines;
}
