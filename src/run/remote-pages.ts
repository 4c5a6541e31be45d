/**
 * Index pages read the way transfers are made: through the run's HTTP client, retried on
 * transient failures with the transfers' backoff (and `Retry-After`), at the pace an origin asked
 * for with 429 (the same origin gate the transfers keep), and never while its circuit is open.
 */
import type { Clock } from "../clock.js";
import { asSyncError } from "../core/context.js";
import { FREE_ATTEMPTS, RetryBudget } from "../core/retry-budget.js";
import { SyncError } from "../errors.js";
import type { Circuits } from "../health/circuits.js";
import type { OriginGate } from "../health/origin-gate.js";
import type { Logger } from "../log/events.js";
import { redactUrl } from "../log/redact.js";
import { withRetry } from "../policies/retry.js";
import type { HttpClient } from "../sources/http/client.js";
import type { IndexLink } from "../sources/http/index-links.js";
import { readIndexPage } from "../sources/http/listing.js";
import { originOf } from "../sources/location.js";

/** What listing a remote directory needs from the run: its client, clock and origin health. */
export interface RemoteListing {
  client: HttpClient;
  gate: OriginGate;
  /** Read only: a plan writes no state, so listing failures do not count against a circuit. */
  circuits: Pick<Circuits, "refusesFor">;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** Attempts per page (`--max-retries`). */
  maxAttempts: number;
  /** `--retry-max-time` in milliseconds: an outage is waited out while listing too. */
  retryMaxTimeMs: number;
  /** Multiplies every backoff and pace delay (tests). */
  delayScale: number;
  /** The run's: an interrupt or the deadline stops the listing. */
  signal: AbortSignal;
}

/**
 * Reads the index page `page` of the directory `root` (see `readIndexPage`), retrying transient
 * failures, and resolves to the URL that answered, the page's listing digest and what `collect`
 * kept of its links. `collect` is called anew for each attempt, so a page cut off halfway is never
 * half counted. Rejects with the last attempt's `SyncError`, or the signal's reason when it aborts.
 */
export async function readPageWithRetries<T>(
  listing: RemoteListing,
  page: string,
  root: URL,
  source: string,
  collect: () => { add(link: IndexLink): void; result(): T },
): Promise<{ url: URL; digest: string; kept: T }> {
  const { clock, gate, signal } = listing;
  const origin = originOf(root);
  // The transfers' budget: "slow down" waited out at the origin's pace and free, an outage of
  // an origin heard from in this run waited out by time, anything else counted.
  const budget = new RetryBudget({
    origin,
    gate,
    now: () => clock.monotonic(),
    random: listing.random,
    maxAttempts: listing.maxAttempts,
    retryMaxTimeMs: listing.retryMaxTimeMs,
    resumable: () => false,
    delayScale: listing.delayScale,
  });
  const outcome = await withRetry(
    async (attempt) => {
      const wait = budget.begin(attempt);
      if (wait > 0) await clock.sleep(wait, signal);
      const epoch = gate.epoch(origin);
      const collector = collect();
      const { url, digest } = await readIndexPage(listing.client, page, root, signal, (link) =>
        collector.add(link),
      );
      budget.answered();
      gate.accepted(origin);
      // A whole page read proves the origin alive: its transfers need not queue one at a time.
      gate.prove(origin, "finished", epoch);
      return { url, digest, kept: collector.result() };
    },
    {
      maxAttempts: listing.maxAttempts,
      isRetryable: (error) => error instanceof SyncError && error.retryable,
      charge: (error) => budget.charge(error),
      maxFreeAttempts: FREE_ATTEMPTS,
      mayRetry: () => budget.mayRetry(),
      delayMs: (attempt, error) => budget.delayMs(attempt, error),
      sleep: (ms, sleepSignal) => clock.sleep(ms, sleepSignal),
      signal,
      onFailure: ({ attempt, error, delayMs }) => {
        const failure = asSyncError(error);
        listing.logger.emit("warning", "index request failed", {
          source,
          page: redactUrl(page),
          attempt,
          error_code: failure.code,
          reason: failure.message,
          retryable: failure.retryable,
          delay_ms: delayMs ?? null,
          ...(failure.status === undefined ? {} : { status: failure.status }),
        });
      },
    },
  );
  if (!outcome.ok) throw budget.failure(asSyncError(outcome.error));
  return outcome.value;
}
