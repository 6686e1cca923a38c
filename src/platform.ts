/**
 * What a platform (adapters/<platform>/) brings to the process, as one module object. The
 * composition root (src/root/platforms.ts) holds the list and is the only code that walks it:
 * adding a platform is a new folder with its module and one line in that list.
 *
 * `Deps` is what the platform's start takes from the process, `DeliverDeps` what its deliverer
 * takes (a bot-side process without the inbound half builds only deliverers); each module names
 * only what it uses, and the root's are the union of every module's.
 */
import type { Config, PlatformEnvPart } from './config.ts';
import type { Deliverer } from './delivery.ts';
import type { Origin } from './jobs.ts';
import type { PlatformSecretRule } from './platform-secrets.ts';

/** Where a platform's credentials may show up in logs: field names and the shapes of its tokens. */
export interface PlatformRedaction {
  /** Field names that hold this platform's credentials in any logged object. */
  fields: readonly string[];
  /** Shapes of its credentials in free text; a first capture group is kept (a route prefix). */
  patterns: readonly RegExp[];
}

/** A platform's inbound side once started: what the start-up lines call it, and how it stops taking requests. */
export interface StartedPlatform {
  label: string;
  /** An address people open in a browser (the playground), for the start-up lines. */
  url?: string;
  stop(): Promise<void>;
}

/** What the commands need to know about a request's platform (commands/context.ts hands it to them). */
export interface PlatformCommandRules {
  /** How help is reached there, for messages that point to it. */
  helpCommand: string;
  /** The roles a person holds, for PRESS_POLICY=roles:...; absent on a platform without roles. */
  pressRoles?(origin: Origin): readonly string[];
}

export interface PlatformModule<Deps extends { config: object } = { config: Config }, DeliverDeps extends { config: object } = Deps> {
  /** The value of `origin.platform` for its jobs. */
  readonly name: string;
  /** A chat platform: while one is configured, the web playground is off unless turned on. */
  readonly chat: boolean;
  /** Its variables in the environment schema. */
  // Each module's part has its own shape (its check reads its own variables).
  readonly env: PlatformEnvPart<any>;
  /** Its short-lived reply credential, if it has one (fields and lifetime). */
  readonly secret?: PlatformSecretRule;
  readonly redaction: PlatformRedaction;
  /** What the commands need to know about it (help, roles); its adapter hands the same to commandContext. */
  readonly commands: PlatformCommandRules;
  /** Whether this process's configuration turns the platform on (its inbound side and its deliverer). */
  configured(config: Deps['config']): boolean;
  /** Starts taking requests; null when there is nothing to start in this configuration. */
  start(deps: Deps): Promise<StartedPlatform | null>;
  /** The deliverer that posts its jobs' progress and results (bot side). */
  deliverer(deps: DeliverDeps): Promise<Deliverer>;
}
