/** The option table's rows for where a run keeps its state: local files, or a Redis many hosts share. */
import type { OptionSpec } from "./spec.js";

export const STATE_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "state",
    owner: "run/runtime",
    key: "state",
    kind: "string",
    value: "URL",
    defaultText: "local: --lock-dir",
    help: "shared state for many hosts: redis://[user:pass@]host[:port][/db] (leases, markers, part records, circuits; the password is never logged, and may come from $RESILIENT_SYNC_REDIS_PASSWORD instead); unreachable at start: exit 42",
    group: "State and locks",
  },
  {
    flag: "state-prefix",
    owner: "state/redis/store",
    key: "statePrefix",
    kind: "string",
    value: "PREFIX",
    default: "resilient-sync:",
    help: "with --state redis://…: the prefix of every key, so several deployments can share one Redis",
    group: "State and locks",
  },
];
