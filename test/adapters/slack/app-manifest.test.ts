/** The README's Slack app manifest describes what the code serves. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SLACK_EVENTS_PATH } from '../../../adapters/slack/bot.ts';
import { DEFAULT_SLACK_REACTIONS } from '../../../adapters/slack/reactions.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('README app manifest', () => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Connect a Slack app'));
  const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)![1].replace(/^ {3}/gm, '');
  const manifest = parseYaml(yamlBlock);

  it('asks for exactly the scopes and events the bot uses, at the path the bot serves', () => {
    expect(manifest.oauth_config.scopes.bot).toEqual(['commands', 'chat:write', 'files:write', 'reactions:read', 'reactions:write']);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['reaction_added']);
    const urls = [manifest.features.slash_commands[0].url, manifest.settings.event_subscriptions.request_url, manifest.settings.interactivity.request_url];
    expect(urls).toEqual(Array(3).fill(`https://<host>${SLACK_EVENTS_PATH}`));
    expect(manifest.features.slash_commands[0].command).toBe('/imagine');
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(section).toContain('socket_mode_enabled: true');
    expect(section).toContain('connections:write');
    expect(section).toContain(DEFAULT_SLACK_REACTIONS);
  });
});
