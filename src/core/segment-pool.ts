/**
 * The connections of one segmented attempt: segments wait in file order and run at most
 * `limit` at a time, each its own request.
 *
 * Failures, and what each costs:
 * - A segment cut after it made progress (`PROGRESS_FLOOR_BYTES` at least) is asked again from
 *   its own offset after a short backoff (the backoff after progress starts over, as for whole
 *   transfers); the others never notice. At most `PROGRESS_RETRIES` such retries per segment and attempt.
 * - A segment that failed without progress (refused, 503, a reset before the body, a 429 "slow
 *   down") while others still run goes back to the head of the queue, and the attempt uses one
 *   connection fewer from then on: many origins answer too many connections exactly so (nginx's
 *   `limit_conn` with 503, others with 429 or a reset). A "slow down" also slows the origin's
 *   pace for every worker, as for any request. Each such failure lowers the limit, so they are
 *   bounded by the connections the attempt began with.
 * - The same failure with no other segment running, a failure that is not retryable, a changed
 *   source, a write error or a lost lease ends the attempt: the other segments are stopped, and
 *   the transfer's own retry loop (backoff, attempt budget, circuit, pace) takes it from there,
 *   resuming every segment from its own offset.
 * - With `--max-retries 1` nothing is asked again: the first failure ends the attempt.
 */
import { setMaxListeners } from "node:events";
import type { Readable } from "node:stream";
import { SyncError } from "../errors.js";
import { PROGRESS_FLOOR_BYTES } from "../policies/retry.js";
import type { SegmentState } from "./segment-stream.js";

/** Retries of one segment after requests that made progress, per attempt (as for transfers). */
const PROGRESS_RETRIES = 100;

/** What the pool needs from the attempt around it: requests, streaming, waits, logging. */
export interface PoolHooks {
  /** Connections at most, at first. */
  connections: number;
  /** Whether a failed segment may be asked again within the attempt (`--max-retries` above 1). */
  retries: boolean;
  signal: AbortSignal;
  /** Opens the segment from `state.pushed` (pace, request, version checks); resolves to its body. */
  open(state: SegmentState, signal: AbortSignal): Promise<Readable>;
  /** Streams a body into the segment until the segment's end (`lead`: the whole-file body). */
  stream(body: Readable, state: SegmentState, signal: AbortSignal, lead: boolean): Promise<void>;
  /** The wait before a segment cut after progress is asked again. */
  retryDelayMs(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** A segment was told "slow down". */
  throttled(failure: SyncError): void;
  /** A segment failed and will be asked again: after `delayMs`, or (null) once a connection frees. */
  failed(state: SegmentState, failure: SyncError, delayMs: number | null): void;
}

type Outcome = { state: SegmentState; error?: unknown; failed: boolean };

/**
 * Fetches every segment of `queue` (in file order); `lead`, the first answer's whole-file body,
 * serves its segment's first request. Resolves when all are complete; otherwise rejects with the
 * failure that ended the attempt, once every other segment has stopped and its body is closed.
 */
export async function runSegments(
  queue: readonly SegmentState[],
  hooks: PoolHooks,
  lead?: { state: SegmentState; body: Readable },
): Promise<void> {
  const waiting = [...queue];
  let limit = Math.max(1, Math.min(hooks.connections, waiting.length));
  const stop = new AbortController();
  const signal = AbortSignal.any([hooks.signal, stop.signal]);
  // Each segment's request, body and sleeps listen to it: 16 segments are several listeners each.
  setMaxListeners(0, signal);
  const running = new Map<SegmentState, Promise<Outcome>>();
  let leadBody = lead?.body;
  try {
    while (waiting.length > 0 || running.size > 0) {
      while (running.size < limit && waiting.length > 0) {
        const state = waiting.shift() as SegmentState;
        const body = state === lead?.state ? leadBody : undefined;
        if (body) leadBody = undefined;
        running.set(
          state,
          fetchSegment(state, body, hooks, signal).then(
            () => ({ state, failed: false }),
            (error: unknown) => ({ state, error, failed: true }),
          ),
        );
      }
      const outcome = await Promise.race(running.values());
      running.delete(outcome.state);
      if (!outcome.failed) continue;
      hooks.signal.throwIfAborted();
      const failure = outcome.error;
      if (
        !(failure instanceof SyncError) ||
        !hooks.retries ||
        !failure.retryable ||
        failure.discardPartial ||
        running.size === 0
      )
        throw failure;
      if (failure.throttled) hooks.throttled(failure);
      // One connection fewer, and never more than are still running: the failed segment waits
      // for one of them to finish.
      limit = Math.max(1, Math.min(limit - 1, running.size));
      hooks.failed(outcome.state, failure, null);
      waiting.unshift(outcome.state);
    }
  } catch (error) {
    stop.abort(error);
    await Promise.allSettled(running.values());
    if (leadBody) {
      leadBody.on("error", () => {});
      leadBody.destroy();
    }
    throw error;
  }
}

/** One segment to its end: its requests, and its retries after progress. */
async function fetchSegment(
  state: SegmentState,
  lead: Readable | undefined,
  hooks: PoolHooks,
  signal: AbortSignal,
): Promise<void> {
  let body = lead;
  for (let retries = 0; ; retries += 1) {
    const from = state.pushed;
    try {
      const isLead = body !== undefined;
      const stream = body ?? (await hooks.open(state, signal));
      body = undefined;
      await hooks.stream(stream, state, signal, isLead);
      return;
    } catch (error) {
      if (body) {
        body.on("error", () => {});
        body.destroy();
        body = undefined;
      }
      if (signal.aborted) throw signal.reason;
      const progressed = state.pushed - from >= PROGRESS_FLOOR_BYTES;
      if (
        !(error instanceof SyncError) ||
        !hooks.retries ||
        !progressed ||
        !error.retryable ||
        error.discardPartial ||
        error.throttled ||
        retries >= PROGRESS_RETRIES
      )
        throw error;
      const delay = hooks.retryDelayMs();
      hooks.failed(state, error, delay);
      await hooks.sleep(delay, signal);
    }
  }
}
