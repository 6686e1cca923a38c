/**
 * Text crossing the Slack boundary. Slack escapes &, < and > in what users type and wraps
 * mentions, channels and links in <...>; prompts must reach the model as the person wrote
 * them. Going out, the same three characters are escaped so a prompt can never become a
 * mention (<!channel>), a link or a user ping.
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

/** Safe inside mrkdwn: no mentions, links or entities can be formed from it. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A prompt shown in bold on one line, shortened to `max` characters, formatting characters neutralised. */
export function quotePrompt(prompt: string, max: number): string {
  const oneLine = prompt.replace(/\s+/g, ' ').trim();
  const shown = oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
  // A zero-width space after mrkdwn markers keeps `*`, `_`, `~` and backticks from closing the bold or opening code.
  return escapeMrkdwn(shown).replace(/([*_~`])/g, '$1\u200b');
}

export const mention = (userId: string) => `<@${userId}>`;
