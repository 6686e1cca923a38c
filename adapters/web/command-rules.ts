/** What commands need to know about the playground: its box takes /help; it has no roles. */
import type { PlatformCommandRules } from '../../src/platform.ts';

export const webCommandRules: PlatformCommandRules = { helpCommand: '/help' };
