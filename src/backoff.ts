/**
 * Exponential backoff, written once: the wait before retry `attempt` (1-based) doubles from
 * `baseMs` and stops growing at `maxMs`. Callers spread it with their own jitter (a Redis
 * reconnect by ±20 %, a delivery retry between half and all of it).
 */
export function backoffCeilingMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
