/** TTL rules shared by both KeyValueStore backends, so they cannot drift apart. */

/** Milliseconds for a ttl in seconds; 0 = no expiry. Fractions are kept (to the millisecond). */
export function ttlToMs(ttlS: number): number {
  if (!Number.isFinite(ttlS) || ttlS < 0) throw new RangeError(`ttl must be a finite number of seconds >= 0 (0 = no expiry), got ${ttlS}`);
  if (ttlS === 0) return 0;
  return Math.max(1, Math.round(ttlS * 1000));
}
