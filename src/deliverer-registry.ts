/**
 * Which Deliverer answers a job: one per platform, given to the delivery side of a bot
 * process at start-up (the composition root builds them from adapters/<platform>/deliver.ts;
 * tests pass a recording one).
 */
import type { Deliverer } from './delivery.ts';
import type { Platform } from './jobs.ts';

export class NoDelivererError extends Error {
  constructor(readonly platform: Platform, available: Platform[]) {
    super(`this process cannot deliver to ${platform} (it delivers to: ${available.join(', ') || 'nothing'}); set that platform's credentials on the bot`);
    this.name = 'NoDelivererError';
  }
}

export class DelivererRegistry {
  private readonly byPlatform = new Map<Platform, Deliverer>();

  constructor(deliverers: Iterable<Deliverer> = []) {
    for (const d of deliverers) this.add(d);
  }

  add(deliverer: Deliverer): void {
    if (this.byPlatform.has(deliverer.platform)) throw new Error(`two deliverers for ${deliverer.platform}`);
    this.byPlatform.set(deliverer.platform, deliverer);
  }

  get(platform: Platform): Deliverer {
    const d = this.byPlatform.get(platform);
    if (!d) throw new NoDelivererError(platform, this.platforms());
    return d;
  }

  has(platform: Platform): boolean {
    return this.byPlatform.has(platform);
  }

  platforms(): Platform[] {
    return [...this.byPlatform.keys()];
  }
}
