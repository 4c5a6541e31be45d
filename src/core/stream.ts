/** The body of one answer, streamed into a part and hashed in the same pass. */

import { finished } from "node:stream";
import type { Hasher } from "../checksums/digest.js";
import type { PartSink } from "../destinations/destination.js";
import { SyncError, writeError } from "../errors.js";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import type { OpenResult, Source } from "../sources/source.js";

type Body = Extract<OpenResult, { kind: "body" }>;

/**
 * Streams the body into `sink` from its offset, hashing each chunk as it arrives, then makes the
 * part durable. Chunks are taken as 'data' events (no re-buffering) and handed to the sink, so
 * the network, the hash and the disk work at the same time. A full sink or an owed rate limit
 * pauses the body (backpressure reaches the sender; nothing is buffered beyond one chunk) until
 * both let it go on. Returns the bytes received; throws the signal's reason, the source's
 * classified error, or a `write_error`.
 */
export async function streamInto(
  context: {
    source: Source;
    signal: AbortSignal;
    onBytes?: (chunk: number, received: number, total: number | undefined) => void;
    /** A body growing past this many bytes (with the kept ones) fails with `tooBig`'s error. */
    maxFileBytes?: number;
    tooBig?: (bytes: number) => SyncError;
    /** `--limit-rate`, shared by the run: each chunk is charged, and the body paused while it is owed. */
    limiter?: Pick<BandwidthLimit, "take">;
  },
  sink: PartSink,
  hashes: Hasher[],
  opened: Body,
): Promise<number> {
  const { offset, body, length } = opened;
  const total = length === undefined ? undefined : offset + length;
  let received = 0;
  const asWriteError = (error: unknown) =>
    error instanceof SyncError ? error : writeError("write", "the part file", error);
  try {
    await new Promise<void>((resolve, reject) => {
      // `finished` also reports a body that ended or failed before we began to listen.
      const stopWatching = finished(body, { writable: false }, (error) =>
        error ? onError(error) : onEnd(),
      );
      const cleanup = () => {
        body.off("data", onData);
        stopWatching();
        context.signal.removeEventListener("abort", onAbort);
      };
      const fail = (error: unknown) => {
        cleanup();
        reject(error);
      };
      /** The wait the body is paused for, if any (false once it failed): the end waits for it too. */
      let paused: Promise<boolean> | undefined;
      const onData = (chunk: Buffer) => {
        if (
          context.maxFileBytes !== undefined &&
          offset + received + chunk.length > context.maxFileBytes &&
          context.tooBig
        ) {
          fail(context.tooBig(offset + received + chunk.length));
          return;
        }
        for (const hash of hashes) hash.update(chunk);
        received += chunk.length;
        let wait: Promise<void> | undefined;
        try {
          wait = sink.push(chunk);
        } catch (error) {
          fail(asWriteError(error));
          return;
        }
        context.onBytes?.(chunk.length, offset + received, total);
        const owed = context.limiter?.take(chunk.length, context.signal);
        if (wait || owed) {
          body.pause();
          const written = wait?.catch((error: unknown) => {
            throw asWriteError(error);
          });
          paused = Promise.all([written, owed]).then(
            () => {
              paused = undefined;
              body.resume();
              return true;
            },
            (error: unknown) => {
              fail(error);
              return false;
            },
          );
        }
      };
      const onEnd = () => {
        const done = () => {
          cleanup();
          resolve();
        };
        if (paused) paused.then((ok) => ok && done());
        else done();
      };
      const onError = (error: unknown) => {
        if (context.signal.aborted) return fail(context.signal.reason);
        const failure = context.source.describeError(error);
        const have = offset + received;
        // A connection cut mid-body says how much of it arrived, not just UND_ERR_SOCKET.
        if (failure.code !== "network" || total === undefined || have >= total)
          return fail(failure);
        fail(
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
      const onAbort = () => fail(context.signal.reason);
      body.on("data", onData);
      context.signal.addEventListener("abort", onAbort, { once: true });
      if (context.signal.aborted) onAbort();
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
