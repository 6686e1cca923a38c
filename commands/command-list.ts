/** The user-facing commands and buttons, as help and the README describe them. */
import type { Platform } from '../src/jobs.ts';

export const COMMANDS = [
  { usage: '/imagine <prompt> [flags]', description: 'Make images from a prompt; the flags are below.' },
  { usage: '/cancel [job]', description: 'Cancel one of your queued or running jobs, or all of them.' },
  { usage: '/queue', description: 'Where your jobs are in the queue, and how busy it is.' },
  { usage: '/help', description: 'Show this reference.' },
] as const;

/**
 * How help is reached on each platform, for messages that point to it. Discord registers /help
 * as its own command (there, `/imagine help` would draw "help"); Slack gives the app one slash
 * command, so help is a word after it; the playground's box takes /help.
 */
export const HELP_COMMAND: Record<Platform, string> = {
  discord: '/help',
  slack: '/imagine help',
  web: '/help',
};

export const BUTTONS = [
  { label: 'U1–U4', description: 'Upscale that image ×2.' },
  { label: 'V1–V4', description: 'Several images: strong variation of that image (img2img, strength 0.6).' },
  { label: '🔄', description: 'The same request with a new seed.' },
  { label: 'Vary (Subtle)', description: 'Single image: same seed, noise nudged a quarter of the way to a new seed.' },
  { label: 'Vary (Strong)', description: 'Single image: img2img at strength 0.6.' },
  { label: 'Vary (Region)', description: 'Single image: repaint an area drawn in the web editor (from Discord and Slack: a private link, where `PUBLIC_URL` is set).' },
  { label: 'Remix', description: 'Single image: edit the prompt in a form, then vary the image with it.' },
  { label: 'Zoom Out 2x, Zoom Out 1.5x', description: 'Single image: it shrinks into the centre of a canvas of its own size and the border around it is drawn.' },
  { label: 'Custom Zoom', description: 'Single image: the prompt with `--zoom 1.0–2.0`; zoom out that far.' },
  { label: '⬅ ➡ ⬆ ⬇', description: "Single image: the canvas grows by half that way and the new strip is drawn (scaled down to fit when it would pass the model's pixel budget)." },
  { label: '✖', description: 'Remove the result (or cancel a running job).' },
  { label: 'Retry', description: 'Run a failed request again.' },
] as const;
