// The one retry-delay rule (stream reconnects, recorder restarts, webhook deliveries, evidence jobs,
// spool uploads, Redis reconnects, the camera runner's event chain): exponential from `initialMs`,
// capped at `maxMs`, spread by ±`jitter` so workers that failed together do not retry together.
// Pure: callers keep their own attempt counters and timers.

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Spread as a fraction of the delay, 0..1 (default 0.2: ±20 %). */
  jitter?: number;
}

/** Delay before retry `attempt` (1 = after the first failure), in whole ms, never above maxMs. */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const base = Math.min(b.maxMs, b.initialMs * (b.factor ?? 2) ** Math.max(0, attempt - 1));
  const spread = base * (b.jitter ?? 0.2) * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(b.maxMs, base + spread)));
}
