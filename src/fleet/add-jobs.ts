/**
 * Putting a planned batch on the queue: the batch id claimed (one batch per id), the jobs added
 * in rounds, and what is said when that stops half-way (a signal, a lost Redis).
 */
import { setTimeout } from "node:timers/promises";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Clock } from "../clock.js";
import type { SourceResult } from "../core/result.js";
import type { JobSpec } from "../core/spec.js";
import { EnvironmentError, UsageError } from "../errors.js";
import type { Failpoint } from "../failpoints.js";
import type { Logger } from "../log/events.js";
import { BATCH_CLAIM_S, batchKeyOf, type FleetJob, JOB_OPTIONS, jobIdOf } from "./queue.js";

/** Jobs added per round trip. */
const ADD_CHUNK = 500;
/** How long an interrupted round may take to finish before its jobs are counted. */
const SETTLE_MS = 2_000;

/** How long closing the queue's connections may take before they are dropped. */
const CLOSE_GRACE_MS = 2_000;

export async function closeWithin(
  closable: { close(): Promise<void>; disconnect(): Promise<void> } | undefined,
  clock: Clock,
): Promise<void> {
  if (!closable) return;
  const timer = new AbortController();
  const closed = closable.close().then(
    () => true,
    () => true,
  );
  const late = clock.sleep(CLOSE_GRACE_MS, timer.signal).then(
    () => false,
    () => true,
  );
  const inTime = await Promise.race([closed, late]);
  timer.abort();
  if (!inTime) closable.disconnect().catch(() => {});
}

/**
 * Claims `batch` on the queue's Redis (`SET NX`): a batch id names one batch. A reused `RUN_ID`
 * must not add nothing and then report the older batch's results as this one's, so it is
 * refused; the claim outlives every job it covers (`BATCH_CLAIM_S`).
 */
export async function claimBatch(
  client: Redis,
  prefix: string,
  batch: string,
  display: string,
): Promise<void> {
  const claimed = await client
    .set(batchKeyOf(prefix, batch), "1", "EX", BATCH_CLAIM_S, "NX")
    .catch((error: unknown) => {
      throw refusedBy(display, error);
    });
  if (claimed === null)
    throw new UsageError(
      "RUN_ID",
      `batch id ${batch} is already on --queue ${display}: a batch id names one batch; unset RUN_ID (a fresh id is made) or give a new one`,
    );
}

/**
 * A Redis that answers but refuses (a read-only replica after a failover, out of memory, an ACL)
 * or stops answering: an unfit environment (exit 42) naming --queue, not an internal error.
 */
export function refusedBy(display: string, error: unknown): EnvironmentError {
  const reason = error instanceof Error ? error.message : String(error);
  return new EnvironmentError("queue", `--queue ${display} refused the batch: ${reason}`, {
    cause: error,
  });
}

/**
 * Adds one job per pair, `ADD_CHUNK` per round trip. A signal between rounds stops it (the
 * signal's reason is thrown); a Redis lost on the way is an `EnvironmentError`. Either way the
 * log says how many jobs of the batch were queued: those run, the rest were never queued.
 */
export async function addJobs(
  queue: Queue<FleetJob, SourceResult>,
  pairs: JobSpec[],
  settings: {
    batch: string;
    queueDisplay: string;
    logger: Logger;
    signal: AbortSignal;
    failpoint?: Failpoint | undefined;
    /** A fail-fast connection of our own: counts what landed of a round that failed. */
    direct: Pick<Redis, "pipeline">;
  },
): Promise<void> {
  const { batch, logger, signal } = settings;
  let queued = 0;
  const partly = (reason: string) =>
    logger.emit("warning", "batch partly queued", {
      batch_id: batch,
      queued,
      jobs: pairs.length,
      reason,
    });
  const stopped = new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
  stopped.catch(() => {});
  for (let from = 0; from < pairs.length; from += ADD_CHUNK) {
    if (signal.aborted) {
      partly(`interrupted by ${(signal.reason as { signal?: string }).signal ?? "a signal"}`);
      throw signal.reason;
    }
    const chunk = pairs.slice(from, from + ADD_CHUNK).map((spec, offset) => {
      const index = from + offset;
      return {
        name: "sync",
        data: { batch, index, spec },
        opts: { ...JOB_OPTIONS, jobId: jobIdOf(batch, index) },
      };
    });
    const adding = queue.addBulk(chunk);
    adding.catch(() => {});
    try {
      // A frozen Redis holds an add for its command timeout: a signal does not wait for it.
      await Promise.race([adding, stopped]);
    } catch (error) {
      // Interrupted mid-round: a healthy Redis finishes the round in milliseconds; a frozen one
      // is not waited for. Then what landed is counted (a timeout says nothing of what Redis
      // did), so the count logged is the count queued.
      if (signal.aborted)
        await Promise.race([adding.catch(() => {}), setTimeout(SETTLE_MS).then(() => {})]);
      queued += await landed(
        settings.direct,
        queue,
        chunk.map(({ opts }) => opts.jobId),
      );
      if (signal.aborted) {
        partly(`interrupted by ${(signal.reason as { signal?: string }).signal ?? "a signal"}`);
        throw signal.reason;
      }
      const reason = (error as Error).message;
      partly(reason);
      throw new EnvironmentError(
        "queue",
        `--queue ${settings.queueDisplay} lost after queuing ${queued} of ${pairs.length} jobs of batch ${batch}: ${reason}; the queued jobs will run, enqueue the rest under a new batch id`,
        { cause: error },
      );
    }
    queued += chunk.length;
    if (from === 0) await settings.failpoint?.("enqueue-chunk-added");
  }
}

/** How many of `ids` are on the queue (0 when Redis cannot say: the count is then a floor). */
async function landed(
  direct: Pick<Redis, "pipeline">,
  queue: Pick<Queue, "toKey">,
  ids: (string | undefined)[],
): Promise<number> {
  try {
    const pipeline = direct.pipeline();
    for (const id of ids) if (id !== undefined) pipeline.exists(queue.toKey(id));
    const replies = (await pipeline.exec()) ?? [];
    return replies.filter(([error, value]) => !error && value === 1).length;
  } catch {
    return 0;
  }
}
