/** The invite's permissions: derived from the one list in code, and the README quotes exactly that. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PermissionFlagsBits } from 'discord.js';
import { describe, expect, it } from 'vitest';
import { BOT_PERMISSIONS, botPermissionBits, inviteUrl } from '../../../adapters/discord/permissions.ts';
import { REPO_ROOT } from '../../../src/config.ts';

const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('<!-- discord-permissions:start -->'), readme.indexOf('<!-- discord-permissions:end -->'));

describe('Discord invite permissions', () => {
  it('asks for what results in channels and threads, and replies to reactions, need; nothing the bot never does', () => {
    const bits = botPermissionBits();
    const has = (flag: bigint) => (bits & flag) === flag;
    expect(bits).toBe(274878008320n);
    for (const needed of [PermissionFlagsBits.ViewChannel, PermissionFlagsBits.SendMessages, PermissionFlagsBits.SendMessagesInThreads, PermissionFlagsBits.AttachFiles, PermissionFlagsBits.ReadMessageHistory]) {
      expect(has(needed)).toBe(true);
    }
    for (const unused of [PermissionFlagsBits.CreatePublicThreads, PermissionFlagsBits.AddReactions, PermissionFlagsBits.UseApplicationCommands, PermissionFlagsBits.ManageMessages]) {
      expect(has(unused)).toBe(false);
    }
    expect(inviteUrl('123')).toBe('https://discord.com/oauth2/authorize?client_id=123&scope=bot%20applications.commands&permissions=274878008320');
  });

  it('the README names the same permissions, integer and invite URL', () => {
    expect(section).not.toBe('');
    const named = [...section.matchAll(/\*\*([A-Z][A-Za-z ]+)\*\*/g)].map((m) => m[1]);
    expect(named).toEqual(BOT_PERMISSIONS.map((p) => p.name));
    expect(section).toContain(`permission integer \`${botPermissionBits()}\``);
    expect(section).toContain(inviteUrl('<DISCORD_APP_ID>'));
  });

  it('the Discord adapter creates no threads and adds no reactions, so it does not ask for either', () => {
    const dir = path.join(REPO_ROOT, 'adapters/discord');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(path.join(dir, file), 'utf8');
      expect(source, file).not.toMatch(/\/threads\b|startThread|\/reactions\/|\.react\(/);
    }
  });
});
