/**
 * `enqueue --wait`: follows a queued batch to its end. One listener on the queue's event stream
 * settles jobs as they finish (a listener per job cost ~5 KB each: 500 MB for 100,000 jobs);
 * a periodic sweep reads the jobs still pending straight from their Redis hashes, so a finish
 * the stream lost (trimmed while this process lagged, a Redis restarted without its data) is
 * still seen. The same sweep says when no worker is taking jobs: a wait never stays silent.
 */
import type { Queue, QueueEvents } from "bullmq";
import type { Redis } from "ioredis";
import type { Clock } from "../clock.js";
import { ResultBuilder, type SourceResult } from "../core/result.js";
import type { JobSpec } from "../core/spec.js";
import { SyncError } from "../errors.js";
import type { Logger } from "../log/events.js";
import { Tally } from "../run/report.js";
import { ResultOrder, type ResultSink } from "../run/result-order.js";
import type { QueueOutage } from "./outage.js";
import { jobIdOf, MAX_STALLS } from "./queue.js";

export interface FollowSettings {
  /** The batch's queue: its workers and its jobs' keys. */
  queue: Pick<Queue, "getWorkers" | "toKey">;
  /** The queue's Redis database: workers on another one (same prefix) do not take its jobs. */
  queueDb: number;
  /** A fail-fast connection to the queue's Redis: the sweeps' reads. */
  redis: Redis;
  /** Listening since before the first job was added (its `lastEventId`). */
  events: QueueEvents;
  batch: string;
  /** The batch's specs in plan order: job `jobIdOf(batch, i)` runs `specs[i]`. */
  specs: JobSpec[];
  /** The queue as logs show it. */
  queueDisplay: string;
  outage: QueueOutage;
  clock: Clock;
  logger: Logger;
  /** Aborting it stops the following (the promise rejects with its reason); jobs keep running. */
  signal: AbortSignal;
  onResult?: ResultSink;
}

/** How often pending jobs are read from Redis, and at most how many per round (oldest first). */
export const SWEEP_MS = 5_000;
const SWEEP_LIMIT = 2_000;
const PIPELINE_CHUNK = 500;

/** Resolves once every job of the batch has finished, to their tally; results went to `onResult`. */
export async function followBatch(settings: FollowSettings): Promise<Tally> {
  const { events, clock, signal, specs } = settings;
  const tally = new Tally();
  const order = new ResultOrder(settings.onResult ?? (() => {}));
  const pending = new Map<string, number>();
  for (let index = 0; index < specs.length; index += 1)
    pending.set(jobIdOf(settings.batch, index), index);
  const handedOn: Promise<void>[] = [];
  const everyoneDone = new AbortController();

  const settle = (jobId: string, resultOf: (spec: JobSpec) => SourceResult) => {
    const index = pending.get(jobId);
    if (index === undefined) return; // another batch's job, or one already settled by a sweep
    pending.delete(jobId);
    const result = resultOf(specs[index] as JobSpec);
    tally.add(result);
    handedOn.push(order.put(index, result));
    if (pending.size === 0) everyoneDone.abort();
  };
  const lost = (jobId: string, reason: string) => (spec: JobSpec) =>
    new ResultBuilder(spec, clock).failed(
      new SyncError(
        "worker_lost",
        `the fleet gave up on job ${jobId} (taken back from a lost worker up to ${MAX_STALLS} times, or refused): ${reason}`,
      ),
    );
  const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) =>
    settle(jobId, () => returnvalue as SourceResult);
  const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) =>
    settle(jobId, lost(jobId, failedReason));
  events.on("completed", onCompleted);
  events.on("failed", onFailed);

  const sweeper = new Sweeper(settings, pending, settle, lost);
  try {
    if (pending.size === 0) everyoneDone.abort();
    // A frozen Redis may hold a check for its command timeout: a signal does not wait for it.
    // One listener for the whole wait (one per check would pile up over a long batch).
    const stopped = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    stopped.catch(() => {});
    const unlessStopped = (work: Promise<void>) => Promise.race([work, stopped]);
    while (!everyoneDone.signal.aborted) {
      await unlessStopped(sweeper.checkWorkers());
      const either = AbortSignal.any([signal, everyoneDone.signal]);
      await clock.sleep(SWEEP_MS, either).catch((error: unknown) => {
        if (signal.aborted) throw signal.reason;
        if (!everyoneDone.signal.aborted) throw error;
      });
      if (!everyoneDone.signal.aborted) await unlessStopped(sweeper.sweep());
    }
  } finally {
    events.off("completed", onCompleted);
    events.off("failed", onFailed);
    await Promise.allSettled(handedOn);
    await order.drain();
  }
  return tally;
}

type Settle = (jobId: string, resultOf: (spec: JobSpec) => SourceResult) => void;

/** Reads pending jobs from Redis; watches for a queue nobody works on. */
class Sweeper {
  #workersSeen: boolean | undefined;
  #workersUnknown = false;

  constructor(
    private readonly settings: FollowSettings,
    private readonly pending: Map<string, number>,
    private readonly settle: Settle,
    private readonly lost: (jobId: string, reason: string) => (spec: JobSpec) => SourceResult,
  ) {}

  /** Says once when no worker listens on the queue (and again if all leave after some came). */
  async checkWorkers(): Promise<void> {
    const { queue, logger, batch } = this.settings;
    if (this.#workersUnknown) return;
    let count: number;
    try {
      // CLIENT LIST names the clients of every database; BullMQ's own count takes them all.
      const workers = await queue.getWorkers();
      count = workers.filter(
        (worker) => worker.db === undefined || Number(worker.db) === this.settings.queueDb,
      ).length;
    } catch (error) {
      if (!isRefusal(error)) {
        this.settings.outage.lost((error as Error).message);
        return;
      }
      // Reachable, but CLIENT LIST is not allowed (an ACL, a managed Redis): said once.
      this.#workersUnknown = true;
      logger.emit("warning", "cannot tell whether workers listen", {
        queue: this.settings.queueDisplay,
        reason: (error as Error).message,
      });
      return;
    }
    this.settings.outage.back();
    const seen = count > 0;
    if (!seen && this.#workersSeen !== false)
      logger.emit("warning", "no worker on the queue", {
        queue: this.settings.queueDisplay,
        batch_id: batch,
        pending: this.pending.size,
      });
    this.#workersSeen = seen;
  }

  /** Settles the pending jobs whose hashes say they finished (or are gone). */
  async sweep(): Promise<void> {
    const { queue, redis } = this.settings;
    const ids = [...this.pending.keys()].slice(0, SWEEP_LIMIT);
    try {
      for (let from = 0; from < ids.length; from += PIPELINE_CHUNK) {
        const chunk = ids.slice(from, from + PIPELINE_CHUNK);
        const pipeline = redis.pipeline();
        for (const id of chunk)
          pipeline.hmget(queue.toKey(id), "name", "finishedOn", "returnvalue", "failedReason");
        const replies = (await pipeline.exec()) ?? [];
        // ioredis resolves a pipeline with each command's error (a timeout included) in place.
        const failed = replies.find(([error]) => error && !isRefusal(error))?.[0];
        if (failed) throw failed;
        this.settings.outage.back();
        chunk.forEach((id, index) => {
          const [error, fields] = replies[index] ?? [new Error("no reply"), null];
          if (error) return;
          const [name, finishedOn, returnvalue, failedReason] = fields as (string | null)[];
          // Every job's hash has a name; none has one once removed (expired, obliterated).
          if (name === null) this.settle(id, this.lost(id, "its record is gone from the queue"));
          else if (returnvalue !== null && finishedOn !== null)
            this.settle(id, () => JSON.parse(returnvalue as string) as SourceResult);
          else if (finishedOn !== null)
            this.settle(id, this.lost(id, failedReason ?? "failed without a reason"));
          // Otherwise waiting or running: the next sweep looks again.
        });
      }
    } catch (error) {
      // A refused read (an ACL) is no outage; the events still settle the jobs.
      if (!isRefusal(error)) this.settings.outage.lost((error as Error).message);
    }
  }
}

/** An error Redis answered with (it is reachable), as opposed to no answer at all. */
function isRefusal(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError";
}
