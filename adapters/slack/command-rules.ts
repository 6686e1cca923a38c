/** What commands need to know about Slack: the app has one slash command, and Slack has no roles. */
import type { PlatformCommandRules } from '../../src/platform.ts';

export const slackCommandRules: PlatformCommandRules = {
  // One slash command per app, so help is a word after it.
  helpCommand: '/imagine help',
};
