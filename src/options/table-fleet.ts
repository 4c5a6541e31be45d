/**
 * The option table's rows for a fleet: `resilient-sync enqueue` puts a batch on a Redis queue,
 * `resilient-sync worker` runs it from as many hosts as there are workers (docs/scaling.md).
 * A plain run refuses them; each command refuses what only the other one reads (cli/fleet.ts).
 */
import type { OptionSpec } from "./spec.js";

export const FLEET_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "queue",
    owner: "fleet/queue",
    key: "queue",
    kind: "string",
    value: "URL",
    help: "enqueue, worker: the Redis of the fleet, redis://[user:pass@]host[:port][/db]; its jobs and (unless --state says otherwise) the shared state live there; the password may come from $RESILIENT_SYNC_REDIS_PASSWORD",
    group: "Fleet",
  },
  {
    flag: "wait",
    owner: "fleet/enqueue",
    key: "wait",
    kind: "boolean",
    help: "enqueue: wait for every job of the batch, then report as a local run does (--json, exit codes)",
    group: "Fleet",
  },
  {
    flag: "concurrency",
    owner: "fleet/worker",
    key: "concurrency",
    kind: "count",
    min: 1,
    max: 1000,
    value: "N",
    default: 4,
    help: "worker: jobs this worker runs at once",
    group: "Fleet",
  },
  {
    flag: "stalled-after",
    owner: "fleet/worker",
    key: "stalledAfter",
    kind: "seconds",
    // BullMQ renews a job's lock every half of it: below a second a healthy worker lost its own
    // jobs to itself (one ran three times at once with 0.001).
    min: 1,
    value: "SEC",
    default: 30,
    help: "worker: a worker silent this long (killed, frozen, cut off) has its jobs taken over by the others (at least 1)",
    group: "Fleet",
  },
];
