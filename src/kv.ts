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
}
