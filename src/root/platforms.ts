/**
 * The platforms this product serves. Adding one is a folder adapters/<platform>/ with its
 * module.ts and one line here; everything else (the environment schema, log redaction, what a
 * worker ignores, which adapters start and which deliverers post) is read from this list.
 * The list's order is the order a worker names their ignored credentials in; they start in the
 * reverse order (the web first, whose page the chat platforms' routes sit beside; then Slack,
 * then Discord), which is also how the start-up lines name them.
 */
import { discordPlatform } from '../../adapters/discord/module.ts';
import { slackPlatform } from '../../adapters/slack/module.ts';
import { webPlatform } from '../../adapters/web/module.ts';
import type { Deliverer } from '../delivery.ts';
import type { PlatformModule, StartedPlatform } from '../platform.ts';

export const PLATFORMS = [discordPlatform, slackPlatform, webPlatform] as const;

type Each = (typeof PLATFORMS)[number];
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
/** What starting every platform takes: the union of what each module asks for. */
export type PlatformDeps = Intersection<Each extends PlatformModule<infer D, infer _> ? D : never>;
/** What building every platform's deliverer takes. */
export type PlatformDelivererDeps = Intersection<Each extends PlatformModule<infer _, infer D> ? D : never>;
/** The whole configuration: the shared variables and every platform's. */
export type AppConfig = PlatformDeps['config'];

/** The platforms this configuration turns on. */
export function configuredPlatforms(config: AppConfig): Each[] {
  return PLATFORMS.filter((p) => p.configured(config));
}

/** A chat platform is configured (the playground is then opt-in). */
export function chatConfigured(config: AppConfig): boolean {
  return configuredPlatforms(config).some((p) => p.chat);
}

/** One deliverer per platform this configuration turns on (the web's always). */
export async function platformDeliverers(deps: PlatformDelivererDeps): Promise<Deliverer[]> {
  const out: Deliverer[] = [];
  for (const p of configuredPlatforms(deps.config)) out.push(await p.deliverer(deps));
  return out;
}

/** Starts the inbound side of each platform this configuration turns on, last listed first. */
export async function startPlatforms(deps: PlatformDeps, started: (platform: StartedPlatform) => void): Promise<void> {
  for (const p of configuredPlatforms(deps.config).reverse()) {
    const s = await p.start(deps);
    if (s) started(s);
  }
}

/** Every platform's credential variables; a worker names those it was given in its "ignored" warning. */
export const PLATFORM_VARIABLES: readonly string[] = PLATFORMS.flatMap((p) => p.env.credentialNames);

export function platformVariablesSet(config: AppConfig): string[] {
  const values = config as unknown as Record<string, unknown>;
  return PLATFORM_VARIABLES.filter((name) => values[name] !== undefined && values[name] !== '');
}
