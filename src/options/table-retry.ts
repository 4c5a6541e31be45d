/** The option table's rows for retries and the circuit: how hard a transfer tries, and for how long. */
import type { OptionSpec } from "./spec.js";

export const RETRY_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "max-retries",
    owner: "core/transfer",
    key: "maxRetries",
    kind: "count",
    min: 1,
    value: "N",
    default: 5,
    help: "attempts in total per transfer (N ≥ 1); attempts that made progress, were told to slow down, or met an outage of an origin that was answering do not count",
    group: "Single pair",
  },
  {
    flag: "retry-max-time",
    owner: "core/transfer",
    key: "retryMaxTime",
    kind: "seconds",
    positive: true,
    value: "SEC",
    default: 300,
    help: "stop retrying a transfer once its origin has not answered for SEC (from its first attempt, its last answer or byte); bounds how long an outage is waited out",
    group: "Single pair",
  },
  {
    flag: "timeout",
    owner: "sources/http",
    key: "timeout",
    kind: "seconds",
    positive: true,
    value: "SEC",
    default: 30,
    help: "connect, response-headers and stall timeout of one attempt (no byte for SEC aborts it); never cuts a transfer that keeps progressing",
    group: "Single pair",
  },
  {
    flag: "circuit-ttl",
    owner: "health/circuits",
    key: "circuitTtl",
    kind: "seconds",
    value: "SEC",
    default: 300,
    help: "how long an opened circuit refuses work",
    group: "Single pair",
  },
];
