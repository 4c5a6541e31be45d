/** The body of one answer, streamed into a part and hashed in the same pass. */

import { finished } from "node:stream";
import type { Hasher } from "../checksums/digest.js";
import type { HashWorker } from "../checksums/hash-worker.js";
import type { PartSink } from "../destinations/destination.js";
import { SyncError, writeError } from "../errors.js";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import { lendingBody, type OpenResult, type Source } from "../sources/source.js";

type Body = Extract<OpenResult, { kind: "body" }>;

interface StreamContext {
  source: Source;
  signal: AbortSignal;
  onBytes?: (chunk: number, received: number, total: number | undefined) => void;
  /** A body growing past this many bytes (with the kept ones) fails with `tooBig`'s error. */
  maxFileBytes?: number;
  tooBig?: (bytes: number) => SyncError;
  /** `--limit-rate`, shared by the run: each chunk is charged, and the body paused while it is owed. */
  limiter?: Pick<BandwidthLimit, "take">;
}

/**
 * Streams the body into `sink` from its offset, hashing each chunk as it arrives, then makes the
 * part durable. Chunks are handed to the sink as they arrive (no re-buffering), so the network,
 * the hash and the disk work at the same time: borrowed from a lending body (the http client's:
 * the sink releases each once written, and its memory is read into again), else taken as 'data'
 * events. A full sink or an owed rate limit pauses the body (backpressure reaches the sender;
 * nothing is buffered beyond one network read) until both let it go on. Returns the bytes
 * received; throws the signal's reason, the source's classified error, or a `write_error`.
 *
 * With `offload` (a hash worker) the chunks are hashed there instead of `hashes`, lent without a
 * copy: a lent chunk is released only once both its write and its hash are done, and a failed
 * worker fails the stream at once.
 */
export async function streamInto(
  context: StreamContext,
  sink: PartSink,
  hashes: Hasher[],
  opened: Body,
  offload?: HashWorker,
): Promise<number> {
  const { offset, body, length } = opened;
  const total = length === undefined ? undefined : offset + length;
  let received = 0;
  const asWriteError = (error: unknown) =>
    error instanceof SyncError ? error : writeError("write", "the part file", error);
  const lending = lendingBody(body);
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let detach = () => {};
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        detach();
        context.signal.removeEventListener("abort", onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      const pause = lending ? () => lending.pauseLending() : () => body.pause();
      const resume = lending ? () => lending.resumeLending() : () => body.resume();
      /** Waits the body is paused for (the sink's, the rate limit's): the end waits for them too. */
      let waits = 0;
      let ended = false;
      /** A chunk; `release` (a lent chunk's) goes to the sink, which calls it once written. */
      const onChunk = (chunk: Buffer, release?: () => void) => {
        if (settled) return release?.();
        if (
          context.maxFileBytes !== undefined &&
          offset + received + chunk.length > context.maxFileBytes &&
          context.tooBig
        ) {
          release?.();
          return settle(context.tooBig(offset + received + chunk.length));
        }
        let sinkRelease = release;
        if (!offload) for (const hash of hashes) hash.update(chunk);
        else if (release) sinkRelease = lendToHash(offload, chunk, release);
        else offload.update(chunk);
        received += chunk.length;
        let wait: Promise<void> | undefined;
        try {
          wait = sink.push(chunk, sinkRelease);
        } catch (error) {
          sinkRelease?.(); // not taken
          return settle(asWriteError(error));
        }
        context.onBytes?.(chunk.length, offset + received, total);
        const owed = context.limiter?.take(chunk.length, context.signal);
        if (!wait && !owed) return;
        waits += 1;
        if (waits === 1) pause();
        const written = wait?.catch((error: unknown) => {
          throw asWriteError(error);
        });
        Promise.all([written, owed]).then(
          () => {
            waits -= 1;
            if (waits > 0 || settled) return;
            if (ended) settle();
            else resume();
          },
          (error: unknown) => settle(error),
        );
      };
      const onEnd = () => {
        ended = true;
        if (waits === 0) settle();
      };
      const onError = (error: unknown) => {
        if (context.signal.aborted) return settle(context.signal.reason);
        const failure = context.source.describeError(error);
        const have = offset + received;
        // A connection cut mid-body says how much of it arrived, not just the socket's error.
        // A body whose bytes cannot be trusted (`discardPartial`) is not a short one.
        if (
          failure.code !== "network" ||
          failure.discardPartial ||
          total === undefined ||
          have >= total
        )
          return settle(failure);
        settle(
          new SyncError(
            "network",
            `short body: received ${have} of ${total} bytes (${failure.message})`,
            {
              retryable: failure.retryable,
              cause: failure,
            },
          ),
        );
      };
      const onAbort = () => settle(context.signal.reason);
      if (offload) offload.onFailure = (error) => settle(error);
      context.signal.addEventListener("abort", onAbort, { once: true });
      if (context.signal.aborted) return onAbort();
      if (lending) {
        lending.lend({ chunk: onChunk, end: onEnd, error: onError });
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
    try {
      await sink.finish();
    } catch (error) {
      throw asWriteError(error);
    }
    return received;
  } catch (error) {
    body.on("error", () => {});
    body.destroy();
    throw error;
  }
}

/**
 * Lends `chunk` to the hash worker; returns the release to give the sink. `release` itself is
 * called once both have let go of the chunk (written and hashed), whichever comes last.
 */
function lendToHash(offload: HashWorker, chunk: Buffer, release: () => void): () => void {
  let holders = 2;
  const letGo = () => {
    holders -= 1;
    if (holders === 0) release();
  };
  offload.lend(chunk, letGo);
  return letGo;
}
