/**
 * The circuit breaker as a pure state machine over wall-clock time, so that its state can be
 * stored between runs (a file, Redis) and shared by every worker and process. Consecutive
 * failed transfers open it; after the TTL one probe is let through (half-open): success closes
 * it, failure re-opens it.
 *
 * Written here rather than taken from cockatiel: cockatiel's breaker lives in one process's
 * memory with its own timers, while ours must be re-read from shared storage before every
 * decision and written back after it.
 */

export type CircuitState =
  | { state: "closed"; failures: number }
  | { state: "open"; failures: number; openedAt: number; openUntil: number }
  | { state: "half_open"; failures: number; probeUntil: number };

export const CLOSED: CircuitState = { state: "closed", failures: 0 };

export type Admission =
  | { decision: "allow"; next: CircuitState }
  | { decision: "probe"; next: CircuitState }
  | { decision: "reject"; next: CircuitState; retryInMs: number };

/**
 * Whether a transfer may start at wall time `now`. Past the TTL the first caller becomes the
 * probe; others are refused until the probe reports (or its window of one TTL lapses, in case
 * the prober died).
 */
export function admit(current: CircuitState, now: number, ttlMs: number): Admission {
  if (current.state === "closed") return { decision: "allow", next: current };
  const window = current.state === "open" ? ttlMs : probeWindow(ttlMs);
  const until = current.state === "open" ? current.openUntil : current.probeUntil;
  if (now >= until) return probe(current, now, ttlMs);
  if (until - now <= window) return { decision: "reject", next: current, retryInMs: until - now };
  // Further away than one window: the wall clock went back. Wait one window from now, not
  // however far the clock jumped.
  const clamped: CircuitState =
    current.state === "open"
      ? { ...current, openedAt: now, openUntil: now + window }
      : { ...current, probeUntil: now + window };
  return { decision: "reject", next: clamped, retryInMs: window };
}

function probeWindow(ttlMs: number): number {
  return Math.max(ttlMs, 1000);
}

function probe(current: CircuitState, now: number, ttlMs: number): Admission {
  return {
    decision: "probe",
    next: {
      state: "half_open",
      failures: current.failures,
      probeUntil: now + probeWindow(ttlMs),
    },
  };
}

/** After a successful transfer: closed, count reset. `reset` tells whether the circuit was not closed before. */
export function recordSuccess(current: CircuitState): { next: CircuitState; reset: boolean } {
  return { next: CLOSED, reset: current.state !== "closed" || current.failures > 0 };
}

/**
 * After a transfer failed for a transient reason: one more consecutive failure; the circuit opens
 * once `threshold` is reached, and a failed probe re-opens it at once.
 */
export function recordFailure(
  current: CircuitState,
  now: number,
  threshold: number,
  ttlMs: number,
): { next: CircuitState; opened: boolean } {
  const failures = current.failures + 1;
  if (current.state === "half_open" || failures >= threshold) {
    return {
      next: { state: "open", failures, openedAt: now, openUntil: now + ttlMs },
      opened: true,
    };
  }
  return { next: { state: "closed", failures }, opened: false };
}

/** Reads a stored state; anything malformed is `undefined` (the caller warns and starts closed). */
export function circuitFromJSON(value: unknown): CircuitState | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const failures = record.failures;
  if (typeof failures !== "number" || !Number.isSafeInteger(failures) || failures < 0)
    return undefined;
  const isTime = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  switch (record.state) {
    case "closed":
      return { state: "closed", failures };
    case "open":
      return isTime(record.openedAt) && isTime(record.openUntil)
        ? { state: "open", failures, openedAt: record.openedAt, openUntil: record.openUntil }
        : undefined;
    case "half_open":
      return isTime(record.probeUntil)
        ? { state: "half_open", failures, probeUntil: record.probeUntil }
        : undefined;
    default:
      return undefined;
  }
}
