/**
 * KeyValueStore in process memory, for the one-process local mode. Same semantics as the
 * Redis store: ttl in seconds (fractions allowed), 0 = no expiry, set replaces value and TTL.
 * Expired entries are dropped when read and swept now and then on writes; no timers, so an
 * idle store never keeps the process alive.
 */
import type { KeyValueStore, KvWrite } from './kv.ts';
import { ttlToMs } from './kv-ttl.ts';

interface Entry {
  value: string;
  /** Epoch ms; 0 = never. */
  expiresAt: number;
}

const SWEEP_EVERY_WRITES = 256;

export class MemoryKeyValueStore implements KeyValueStore {
  private readonly entries = new Map<string, Entry>();
  private writes = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Live entries (expired ones excluded). */
  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    this.write(key, value, ttlToMs(ttlS));
  }

  async setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean> {
    const ms = ttlToMs(ttlS);
    if (this.live(key)) return false;
    this.write(key, value, ms);
    return true;
  }

  async del(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async getMany(keys: readonly string[]): Promise<(string | null)[]> {
    return keys.map((k) => this.live(k)?.value ?? null);
  }

  async setMany(writes: readonly KvWrite[]): Promise<boolean[]> {
    // TTLs are validated before anything is written, so a bad one leaves the store untouched (as MULTI would).
    const ms = writes.map((w) => ttlToMs(w.ttlS));
    return writes.map((w, i) => {
      if (w.ifAbsent && this.live(w.key)) return false;
      this.write(w.key, w.value, ms[i]);
      return true;
    });
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private write(key: string, value: string, ttlMs: number): void {
    this.entries.set(key, { value, expiresAt: ttlMs === 0 ? 0 : this.now() + ttlMs });
    if (++this.writes % SWEEP_EVERY_WRITES === 0) this.sweep();
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= now) this.entries.delete(key);
    }
  }
}
