/**
 * A tiny expiring key-value interface for state that must outlive a process (result
 * parameters, platform secrets, delivery idempotency records, event dedupe). Redis backs it
 * in a fleet; memory backs it in the one-process local mode.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  /** ttlS = 0 means no expiry. */
  set(key: string, value: string, ttlS: number): Promise<void>;
  /** Atomic set-if-absent; true when this call created the key. */
  setIfAbsent(key: string, value: string, ttlS: number): Promise<boolean>;
  del(key: string): Promise<void>;
  /**
   * Several reads in one round trip (Redis: MGET), answers in key order. Optional: callers go
   * through getMany() below, which falls back to one get() per key.
   */
  getMany?(keys: readonly string[]): Promise<(string | null)[]>;
  /**
   * Several writes applied together, in order, in one round trip (Redis: MULTI). Optional:
   * callers go through setMany() below, which falls back to one call per write.
   */
  setMany?(writes: readonly KvWrite[]): Promise<boolean[]>;
}

/** One write of a batch; `ifAbsent` makes it a setIfAbsent. */
export interface KvWrite {
  key: string;
  value: string;
  /** 0 = no expiry. */
  ttlS: number;
  ifAbsent?: boolean;
}

/** Values for `keys` in order (null where absent), in one round trip where the store can. */
export function getMany(kv: KeyValueStore, keys: readonly string[]): Promise<(string | null)[]> {
  return kv.getMany ? kv.getMany(keys) : Promise.all(keys.map((k) => kv.get(k)));
}

/**
 * Apply `writes` in order, in one round trip where the store can. Per write: true when it was
 * applied (always, for a plain set), false for an `ifAbsent` write whose key existed.
 */
export async function setMany(kv: KeyValueStore, writes: readonly KvWrite[]): Promise<boolean[]> {
  if (kv.setMany) return kv.setMany(writes);
  const applied: boolean[] = [];
  for (const w of writes) {
    if (w.ifAbsent) applied.push(await kv.setIfAbsent(w.key, w.value, w.ttlS));
    else applied.push((await kv.set(w.key, w.value, w.ttlS), true));
  }
  return applied;
}
