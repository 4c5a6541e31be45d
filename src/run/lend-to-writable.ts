/**
 * A body our http client lends, written to a `Writable` (stdout for `-o -`): each chunk is
 * released once the writable has written it, so its receive slot is read into again. Read as a
 * stream instead, every chunk kept its slot for good, and 1 GiB to stdout peaked at 147 MiB
 * (57 MiB lent). The body stops reading while its lent limit (a few MiB) waits for the writable:
 * that is the backpressure. A rate limit's debt pauses it too.
 */
import type { Readable, Writable } from "node:stream";
import type { BandwidthLimit } from "../policies/bandwidth.js";
import type { LendingBody } from "../sources/source.js";

export interface LendOptions {
  /** Told of each chunk before it is written; an error returned stops the body with it. */
  accept(chunk: Buffer): Error | undefined;
  limiter?: Pick<BandwidthLimit, "take">;
  signal: AbortSignal;
}

/**
 * Resolves once every chunk was handed to `out` (not necessarily flushed); rejects with the
 * body's error, `accept`'s, or the signal's reason, and then destroys the body (its connection
 * closes: no later attempt reads it).
 */
export function lendToWritable(
  body: Readable & LendingBody,
  out: Writable,
  { accept, limiter, signal }: LendOptions,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let waits = 0;
    let ended = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (error === undefined) return resolve();
      body.destroy();
      reject(error);
    };
    const onAbort = () => settle(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    body.lend({
      chunk(chunk, release) {
        const refused = settled ? undefined : accept(chunk);
        if (settled || refused) {
          release();
          return settle(refused);
        }
        out.write(chunk, () => release());
        const owed = limiter?.take(chunk.length, signal);
        if (!owed) return;
        waits += 1;
        if (waits === 1) body.pauseLending();
        owed.then(() => {
          waits -= 1;
          if (waits > 0 || settled) return;
          if (ended) settle();
          else body.resumeLending();
        }, settle);
      },
      end() {
        ended = true;
        if (waits === 0) settle();
      },
      error: settle,
    });
  });
}
