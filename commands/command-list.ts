/** The user-facing commands and buttons, as help and the README describe them. */
export const COMMANDS = [
  { usage: '/imagine <prompt> [flags]', description: 'Make images from a prompt; the flags are below.' },
  { usage: '/cancel [job]', description: 'Cancel one of your queued or running jobs, or all of them.' },
  { usage: '/queue', description: 'Where your jobs are in the queue, and how busy it is.' },
  { usage: '/help', description: 'Show this reference.' },
] as const;

export const BUTTONS = [
  { label: 'U1–U4', description: 'Upscale that image ×2.' },
  { label: 'V1–V4', description: 'Several images: strong variation of that image (img2img, strength 0.6).' },
  { label: '🔄', description: 'The same request with a new seed.' },
  { label: 'Vary (Subtle)', description: 'Single image: same seed, noise nudged a quarter of the way to a new seed.' },
  { label: 'Vary (Strong)', description: 'Single image: img2img at strength 0.6.' },
  { label: 'Vary (Region)', description: 'Single image: repaint an area you draw in the web editor (from Discord and Slack, with `PUBLIC_URL` set: a private link to it).' },
  { label: 'Remix', description: 'Single image: a form with its prompt; vary the image with the edited prompt.' },
  { label: 'Zoom Out 2x, Zoom Out 1.5x', description: 'Single image: shrink it into the centre and draw the border around it.' },
  { label: 'Custom Zoom', description: 'Single image: the same form with `--zoom 2` after the prompt; 1.0 to 2.0 zooms out that far.' },
  { label: '⬅ ➡ ⬆ ⬇', description: 'Single image: widen it by half that way and draw the new strip.' },
  { label: '✖', description: 'Remove the result (or cancel a running job).' },
  { label: 'Retry', description: 'Run a failed request again.' },
] as const;
