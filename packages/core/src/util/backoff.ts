export interface BackoffPolicy {
  /** First delay in ms. */
  readonly baseMs: number;
  /** Upper bound in ms. */
  readonly maxMs: number;
  /** Relative jitter, 0.2 = ±20 %. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 30_000, jitter: 0.2 };

/**
 * Exponential backoff with jitter. `attempt` counts failures so far (1 = first retry).
 * `random` returns a number in [0, 1) and is injected so tests are deterministic.
 */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const spread = exp * policy.jitter;
  return Math.max(0, Math.round(exp - spread + random() * 2 * spread));
}
