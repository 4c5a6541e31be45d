/**
 * What `enqueue` and `worker` agree on: the BullMQ queue's name and key prefix, how to connect
 * to its Redis, what a job carries, and how a worker checks what it takes off the queue.
 *
 * A job is one planned pair: `{ batch, index, spec }`, the spec being the core's `JobSpec` —
 * plain data with no secrets (credentials stay with each worker). Our own attempts, backoff,
 * leases and fences run inside the job; BullMQ only hands jobs out, takes back a dead worker's
 * (its stalled-job check) and carries the results.
 */
import type { ConnectionOptions, JobsOptions } from "bullmq";
import type { JobSpec } from "../core/spec.js";
import { UsageError } from "../errors.js";
import type { RedisLocation } from "../state/redis/location.js";

/** How long a fail-fast connection's command may take. */
const FAIL_FAST_COMMAND_MS = 10_000;

/** One queue per key prefix: `--state-prefix` keeps deployments sharing a Redis apart. */
export const QUEUE_NAME = "jobs";

/** What a job carries. `index`: the pair's place in the batch's plan (results come back in it). */
export interface FleetJob {
  batch: string;
  index: number;
  spec: JobSpec;
  /** Times a worker found its destination held by another runner and put the job back. */
  busyRounds?: number;
}

/**
 * BullMQ's key prefix for a state prefix: `resilient-sync:` → keys `resilient-sync:jobs:…`,
 * beside the state's own `resilient-sync:…` keys and never among them.
 */
export function queuePrefixOf(statePrefix: string): string {
  return statePrefix.endsWith(":") ? statePrefix.slice(0, -1) : statePrefix;
}

/**
 * BullMQ connection options for `location`. `maxRetriesPerRequest: null` is what BullMQ's
 * workers and event listeners require: a blocking read must wait out a Redis restart, not fail
 * after one retry. `failFast` (a `Queue` that only adds jobs): a command fails after one retry.
 */
export function connectionOf(location: RedisLocation, failFast = false): ConnectionOptions {
  return {
    host: location.host,
    port: location.port,
    db: location.db,
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
    maxRetriesPerRequest: failFast ? 1 : null,
    // Fail-fast also means a command a frozen Redis never answers fails (a batch's adds take
    // milliseconds; this only ends a wait that would never end).
    ...(failFast ? { commandTimeout: FAIL_FAST_COMMAND_MS } : {}),
    connectionName: "resilient-sync-fleet",
  };
}

/** A job's id: its batch and its place in the batch's plan. */
export function jobIdOf(batch: string, index: number): string {
  return `${batch}.${index}`;
}

/**
 * What a batch id (`RUN_ID`) may hold: BullMQ refuses `:` in job ids and ids that are integers;
 * a leading `.` is refused too, so that no batch is named `.` or `..`.
 */
const BATCH_ID = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Throws `UsageError` when `batch` cannot name a batch's jobs. */
export function checkBatchId(batch: string): void {
  if (!BATCH_ID.test(batch))
    throw new UsageError(
      "RUN_ID",
      `RUN_ID ${JSON.stringify(batch)} cannot be a batch id: use 1 to 128 letters, digits, '-', '_' or '.', not starting with '.'`,
    );
}

/** The key that claims a batch id on the queue's Redis (beside BullMQ's `<prefix>:jobs:…`). */
export function batchKeyOf(prefix: string, batch: string): string {
  return `${prefix}:batch:${batch}`;
}

/** How long a batch id stays claimed: longer than any of its jobs' records are kept. */
export const BATCH_CLAIM_S = 30 * 24 * 3600;

/** How long finished jobs (and their results) stay in Redis for an `enqueue --wait` to read. */
const KEEP_COMPLETED_S = 24 * 3600;
const KEEP_FAILED_S = 7 * 24 * 3600;

/**
 * Every job's options. One BullMQ attempt: the retries are ours, inside the job (backoff,
 * Retry-After, circuit). A job comes back to the queue only when its worker stops answering.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: { age: KEEP_COMPLETED_S },
  removeOnFail: { age: KEEP_FAILED_S },
};

/** A dead worker's job goes back to the queue this many times; then it fails (`worker_lost`). */
export const MAX_STALLS = 2;
