/**
 * Index pages read the way transfers are made: through the run's HTTP client, retried on
 * transient failures with the transfers' backoff (and `Retry-After`), at the pace an origin asked
 * for with 429 (the same origin gate the transfers keep), and through the same circuit breaker:
 * an open circuit refuses the request, a half-open one lets exactly one probe through (one
 * attempt), and what each page's requests said is recorded as a transfer's outcome is.
 */
import type { Clock } from "../clock.js";
import { asSyncError, circuitOpenError } from "../core/context.js";
import { FREE_ATTEMPTS, RetryBudget } from "../core/retry-budget.js";
import { SyncError } from "../errors.js";
import { isOriginFailure, type OriginHealth } from "../health/origin-health.js";
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
  /** The run's: the gate and the circuits its transfers use. */
  health: OriginHealth;
  /**
   * Whether outcomes are recorded in the circuits (a probe taken, failures counted, successes
   * reset). False for `--dry-run`, which writes nothing: it only reads whether a circuit is open.
   */
  recordsHealth: boolean;
  /**
   * Makes the state store writable (the lock dir): called before a failure is recorded, the
   * only circuit write that can come before any state exists. A plan otherwise writes nothing.
   */
  prepareState: () => Promise<void>;
  clock: Clock;
  random: () => number;
  logger: Logger;
  /** Attempts per page (`--max-retries`). */
  maxAttempts: number;
  /** `--retry-max-time` in milliseconds: an outage is waited out while listing too. */
  retryMaxTimeMs: number;
  /** `--backoff-factor`: multiplies every backoff delay, a page's as a transfer's. */
  backoffFactor: number;
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
  const { clock, signal } = listing;
  const { gate, circuits } = listing.health;
  const origin = originOf(root);
  // This run already spent a whole retry budget on this origin, unanswered: another page (of
  // this source or another) would only spend another. Fail at once, until it is heard from.
  const gaveUp = gate.givenUp(origin);
  if (gaveUp) {
    throw new SyncError(
      gaveUp.code,
      `${redactUrl(page)}: not requested: this run gave up on ${origin} (${gaveUp.message})`,
      { retryable: gaveUp.retryable, unreachable: gaveUp.unreachable, atProxy: gaveUp.atProxy },
    );
  }
  // A half-open circuit's probe is one request, as a transfer's is.
  const probing = (await admitPage(listing, origin, source)) === "probe";
  const maxAttempts = probing ? 1 : listing.maxAttempts;
  // The transfers' budget: "slow down" waited out at the origin's pace and free, an outage of
  // an origin heard from in this run waited out by time, anything else counted.
  const budget = new RetryBudget({
    origin,
    gate,
    now: () => clock.monotonic(),
    random: listing.random,
    maxAttempts,
    retryMaxTimeMs: listing.retryMaxTimeMs,
    backoffFactor: listing.backoffFactor,
    resumable: () => false,
    delayScale: listing.delayScale,
  });
  let epoch = gate.epoch(origin);
  let outcome: Awaited<ReturnType<typeof withRetry<{ url: URL; digest: string; kept: T }>>>;
  try {
    outcome = await withRetry(
      async (attempt) => {
        if (attempt > 1) {
          // Another run (or process) may have opened the circuit meanwhile, as for transfers.
          const refusedFor = await circuits.refusesFor(origin);
          if (refusedFor > 0) throw circuitOpenError(origin, refusedFor);
        }
        const wait = budget.begin(attempt);
        if (wait > 0) await clock.sleep(wait, signal);
        epoch = gate.epoch(origin);
        const collector = collect();
        const { url, digest } = await readIndexPage(listing.client, page, root, signal, (link) =>
          collector.add(link),
        );
        budget.answered();
        gate.accepted(origin);
        return { url, digest, kept: collector.result() };
      },
      {
        maxAttempts,
        isRetryable: (error) => error instanceof SyncError && error.retryable,
        charge: (error) => budget.charge(error),
        maxFreeAttempts: FREE_ATTEMPTS,
        mayRetry: () => budget.mayRetry(),
        delayMs: (attempt, error) => budget.delayMs(attempt, error),
        sleep: (ms, sleepSignal) => clock.sleep(ms, sleepSignal),
        signal,
        onFailure: ({ attempt, error, delayMs }) => {
          const failure = asSyncError(error);
          // As for a transfer: a failing origin is suspect, one request at a time again.
          if (isOriginFailure(failure)) gate.suspect(origin);
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
  } catch (error) {
    // Interrupted: a probe proved nothing, and the next caller may probe at once.
    if (probing) await circuits.abandonProbe(origin).catch(() => {});
    throw error;
  }
  const failure = outcome.ok ? undefined : budget.failure(asSyncError(outcome.error));
  if (failure && isOriginFailure(failure)) gate.giveUp(origin, failure);
  await record(listing, origin, failure, probing, epoch, { source, destination: redactUrl(page) });
  if (failure) throw failure;
  return (outcome as { value: { url: URL; digest: string; kept: T } }).value;
}

/**
 * Whether the circuit of `origin` lets a page be asked for: `"probe"` when this request is the
 * half-open circuit's one probe. Throws `circuit_open` when it is open. A dry run only reads it.
 */
async function admitPage(
  listing: RemoteListing,
  origin: string,
  source: string,
): Promise<"allow" | "probe"> {
  const { circuits } = listing.health;
  if (!listing.recordsHealth) {
    const refusedFor = await circuits.refusesFor(origin);
    if (refusedFor > 0) throw circuitOpenError(origin, refusedFor);
    return "allow";
  }
  const admission = await circuits.admit(origin, source, listing.signal);
  if (admission.decision === "reject") throw circuitOpenError(origin, admission.retryInMs);
  return admission.decision;
}

/**
 * Tells origin health what a page's requests said, as `OriginHealth.report` does for a
 * transfer: a whole page read proves the origin alive (its transfers need not queue one at a
 * time) and resets its circuit; a transient failure counts against it. A dry run records nothing
 * in the circuits. A state write that fails is a warning, never the page's failure.
 */
async function record(
  listing: RemoteListing,
  origin: string,
  failure: SyncError | undefined,
  probing: boolean,
  epoch: number,
  /** For the log: the source, and the page whose outcome it was. */
  names: { source: string; destination: string },
): Promise<void> {
  const { health } = listing;
  if (!listing.recordsHealth) {
    if (!failure) health.gate.prove(origin, "finished", epoch);
    return;
  }
  try {
    if (failure && isOriginFailure(failure)) await listing.prepareState();
    await health.report(origin, undefined, failure, probing, epoch, names.source);
  } catch (error) {
    listing.logger.emit("warning", "state not recorded", {
      ...names,
      reason: `circuit state of ${origin}: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}
