/**
 * One segment's body, streamed (or lent, from the http client) into its writer: each chunk
 * offered to the prefix hasher and written at the segment's position, strictly in order, never
 * past the segment's end.
 */
import { finished, type Readable } from "node:stream";
import type { SegmentWriter } from "../destinations/destination.js";
import { SyncError, writeError } from "../errors.js";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import { lendingBody, type Source } from "../sources/source.js";

/**
 * Bytes of one segment lent to its writer and not yet written, beyond which its connection is
 * not read: eight segments then hold at most ~10 MiB between the network and the disk (the limit
 * is checked before each read, which may bring up to 256 KiB more; one transfer's body may hold
 * 6 MiB, sized for a hash worker running behind; segments are hashed from the file).
 */
const SEGMENT_LENT_BYTES = 1024 * 1024;

/** One segment of a segmented download, as it stands in this process. */
export interface SegmentState {
  /** Its place in the file's order (0 holds the file's first byte). */
  readonly index: number;
  readonly start: number;
  /** One past its last byte. */
  readonly end: number;
  /** Where its next byte goes: the bytes before it were handed to the writer. */
  pushed: number;
  /** The bytes before this are in the file (written, readable back, never written again). */
  written: number;
  /** The bytes before this are durable and recorded: what a resume may trust. */
  recorded: number;
  readonly writer: SegmentWriter;
}

/** What a segment's stream reports to: the source (errors), the hasher, the progress count. */
export interface SegmentIo {
  source: Pick<Source, "describeError">;
  signal: AbortSignal;
  /** A chunk is about to be written at `position` (the prefix hasher's `offer`). */
  offer(position: number, chunk: Uint8Array): void;
  /** `bytes` more of the file arrived. */
  onChunk(bytes: number): void;
  /** `--limit-rate`: the run's bandwidth limit, charged as chunks arrive. */
  limiter?: Pick<BandwidthLimit, "take">;
}

/**
 * Streams `body` — the bytes from `state.pushed` on — into the segment until its end; bytes past
 * it are never written. `cutAtEnd`: the body goes on past the segment (the first answer's,
 * the whole file) and is cut there, its connection closed. Resolves when the segment is
 * complete; rejects with the signal's reason, the source's classified error (a body that ends
 * early: a retryable `short body`), or a `write_error`.
 */
export async function streamSegment(
  body: Readable,
  state: SegmentState,
  io: SegmentIo,
  cutAtEnd = false,
): Promise<void> {
  const asWriteError = (error: unknown) =>
    error instanceof SyncError ? error : writeError("write", "the part file", error);
  const shortBody = (why: string, cause?: SyncError) =>
    new SyncError(
      "network",
      `short body: segment ${state.index} (bytes ${state.start}–${state.end}) stopped at ${state.pushed} (${why})`,
      { retryable: cause?.retryable ?? true, cause },
    );
  // The http client's bodies are lent, not streamed: each chunk stays in the slot it was read
  // into until the writer has written it, and the slot is then read into again. Streamed, every
  // 64 KiB slot was handed on for good and left to the garbage collector: 8 segments of a 256 MiB
  // file peaked at 185 MiB of RSS.
  const lending = lendingBody(body);
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let detach = () => {};
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        detach();
        io.signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const pause = lending ? () => lending.pauseLending() : () => body.pause();
      const resume = lending ? () => lending.resumeLending() : () => body.resume();
      /** Waits the body is paused for (the writer's, the rate limit's). */
      let waits = 0;
      /** A chunk; `release` (a lent chunk's) goes to the writer, which calls it once written. */
      const onChunk = (data: Buffer, release?: () => void) => {
        if (settled) return release?.();
        const room = state.end - state.pushed;
        const chunk = data.length > room ? data.subarray(0, room) : data;
        if (chunk.length === 0) release?.();
        else {
          const at = state.pushed;
          io.offer(at, chunk);
          state.pushed += chunk.length;
          let wait: Promise<void> | undefined;
          try {
            wait = state.writer.push(chunk, release);
          } catch (error) {
            release?.(); // not taken
            settle(asWriteError(error));
            return;
          }
          io.onChunk(chunk.length);
          const owed = io.limiter?.take(chunk.length, io.signal);
          if (wait || owed) {
            waits += 1;
            if (waits === 1) pause();
            const written = wait?.catch((error: unknown) => {
              throw asWriteError(error);
            });
            Promise.all([written, owed]).then(
              () => {
                waits -= 1;
                if (waits === 0 && !settled) resume();
              },
              (error: unknown) => settle(error),
            );
          }
        }
        // A whole-file body is cut at the segment's end: what follows belongs to the next
        // segment. A range's body ends there by itself, which keeps its connection reusable.
        if (cutAtEnd && state.pushed >= state.end) settle();
      };
      const onEnd = () =>
        settle(state.pushed >= state.end ? undefined : shortBody("the body ended"));
      const onError = (error: unknown) => {
        if (io.signal.aborted) return settle(io.signal.reason);
        const failure = io.source.describeError(error);
        // Every byte of the span came, and then the connection failed: the bytes stand — unless
        // the failure is of the framing, which proves the bytes before it wrong too (a chunk that
        // carried the next one's size line as data).
        if (state.pushed >= state.end && !failure.discardPartial) return settle();
        settle(
          failure.code === "network" && !failure.discardPartial
            ? shortBody(failure.message, failure)
            : failure,
        );
      };
      const onAbort = () => settle(io.signal.reason);
      io.signal.addEventListener("abort", onAbort, { once: true });
      if (io.signal.aborted) return onAbort();
      if (lending) {
        lending.lend({ chunk: onChunk, end: onEnd, error: onError }, SEGMENT_LENT_BYTES);
        return;
      }
      // `finished` also reports a body that ended or failed before we began to listen.
      const stopWatching = finished(body, { writable: false }, (error) =>
        error ? onError(error) : onEnd(),
      );
      const onData = (chunk: Buffer) => onChunk(chunk);
      body.on("data", onData);
      detach = () => {
        body.off("data", onData);
        stopWatching();
      };
    });
  } finally {
    // Read to its end or not, this body is done with: a whole-file body is cut here.
    if (!body.readableEnded) {
      body.on("error", () => {});
      body.destroy();
    }
  }
}
