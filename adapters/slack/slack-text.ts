/**
 * Text crossing the Slack boundary. Slack escapes &, < and > in what users type and wraps
 * mentions, channels and links in <...>; prompts must reach the model as the person wrote
 * them. Going out, every text passes toMrkdwn: the same three characters are escaped in
 * anything but the bot's own markup (Mrkdwn), so what a user typed, quoted back in a reply or
 * shown as a prompt, can never become a mention (<!channel>), a link or a user ping.
 */

/** What the user typed, from a slash command's `text`: mentions and links as plain words, entities decoded. */
export function fromSlackText(text: string): string {
  return text
    .replace(/<([@#!])([^|>]*)\|([^>]*)>/g, (_m, sigil: string, _id: string, label: string) => {
      // User groups arrive as <!subteam^S1|@team>: the label already carries its @.
      const mark = sigil === '!' ? '@' : sigil;
      return label.startsWith(mark) ? label : `${mark}${label}`;
    })
    .replace(/<([@#])([^>]*)>/g, (_m, sigil: string, id: string) => `${sigil}${id}`)
    .replace(/<!([^>]*)>/g, (_m, word: string) => `@${word}`)
    .replace(/<([^>|]+)\|([^>]*)>/g, (_m, _url: string, label: string) => label)
    .replace(/<([^>]+)>/g, (_m, url: string) => url)
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * Text the bot wrote as Slack mrkdwn: its `<@U…>` mentions, `*bold*` and links are meant.
 * Everything else that reaches Slack is plain text and is escaped on the way out (toMrkdwn),
 * so user text can only ever become markup by being interpolated into `mrkdwn` below, which
 * escapes it.
 */
export class Mrkdwn {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Only &, < and > are special to Slack: escaped, no mention, channel ping or link can be formed. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The one step between any text and Slack: plain text is escaped, the bot's own mrkdwn passes as written. */
export function toMrkdwn(text: string | Mrkdwn): string {
  return text instanceof Mrkdwn ? text.text : escapeMrkdwn(text);
}

/**
 * The bot's markup with values in it: the template's literal parts are mrkdwn as written, every
 * interpolated value is plain text (escaped) unless it is itself Mrkdwn.
 *   mrkdwn`${mention(user)} asked for: ${prompt}`
 */
export function mrkdwn(literals: TemplateStringsArray, ...values: Array<string | number | Mrkdwn>): Mrkdwn {
  let out = literals[0];
  values.forEach((value, i) => {
    out += toMrkdwn(typeof value === 'number' ? String(value) : value) + literals[i + 1];
  });
  return new Mrkdwn(out);
}

/**
 * A prompt on one line, shortened to `max` characters, as plain text: a zero-width space after
 * each mrkdwn marker keeps `*`, `_`, `~` and backticks from closing bold or opening code around it.
 */
export function promptText(prompt: string, max: number): string {
  const oneLine = prompt.replace(/\s+/g, ' ').trim();
  const shown = oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
  return shown.replace(/([*_~`])/g, '$1\u200b');
}

/** A prompt ready to sit inside the bot's markup (e.g. between `*`), escaped. */
export function quotePrompt(prompt: string, max: number): Mrkdwn {
  return mrkdwn`${promptText(prompt, max)}`;
}

/** A user mention: Slack ids are letters and digits, so nothing in it needs escaping. */
export const mention = (userId: string) => new Mrkdwn(`<@${userId.replace(/[^\w]/g, '')}>`);
