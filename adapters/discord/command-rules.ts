/** What commands need to know about Discord: /help is its own command, and members hold roles. */
import type { PlatformCommandRules } from '../../src/platform.ts';
import { discordOriginData } from './origin-data.ts';

export const discordCommandRules: PlatformCommandRules = {
  // Discord registers /help as its own command (there, `/imagine help` would draw "help").
  helpCommand: '/help',
  pressRoles: (origin) => discordOriginData(origin).roleIds ?? [],
};
