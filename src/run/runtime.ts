/**
 * The one place where concrete classes are chosen: the state store (local files, or Redis with
 * `--state redis://…`), the local destination, the http(s) client (our HTTP/1.1 client, undici
 * through proxies), the local file reader, the circuit breaker over the store. Everything else
 * receives them through the `Runtime`.
 */
import type { Clock } from "../clock.js";
import type { ProgressEvent } from "../core/progress.js";
import type { Runtime } from "../core/runtime.js";
import { LocalDestinations } from "../destinations/local/destinations.js";
import { EnvironmentError } from "../errors.js";
import type { Failpoint } from "../failpoints.js";
import { Circuits } from "../health/circuits.js";
import { OriginGate } from "../health/origin-gate.js";
import { OriginHealth } from "../health/origin-health.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { BandwidthLimit } from "../policies/bandwidth.js";
import { FileSource } from "../sources/file.js";
import { HttpClient } from "../sources/http/client.js";
import { FsStateStore } from "../state/fs-store.js";
import type { StateStore } from "../state/store.js";
import { checkLockDir, type StateFields } from "./environment.js";
import type { SourceCredentials } from "./specs.js";

/** A lock holder silent this long may be taken over; it renews every second. */
export const LEASE_TTL_MS = 5000;

export interface RuntimeParts {
  options: ResolvedOptions;
  store: StateStore;
  clock: Clock;
  logger: Logger;
  random: () => number;
  version: string;
  /** Whether any source is http(s): the http client is made only then. */
  needsHttp: boolean;
  credentials: SourceCredentials;
  onProgress?: (event: ProgressEvent) => void;
  testHooks?: { failpoint?: Failpoint; delayScale?: number };
}

/** The state store of a run on this machine: files in the lock dir (and leases beside destinations). */
export function localStore(
  lockDir: string,
  clock: Clock,
  logger: Logger,
  failpoint?: Failpoint,
): FsStateStore {
  return new FsStateStore(lockDir, clock, logger, failpoint);
}

/** The state of a run: its store, the check made before any work, and what to close at the end. */
export interface RunState {
  store: StateStore;
  /**
   * Checks the state can be used — and, unless `dryRun`, makes it ready — or throws
   * `EnvironmentError` (exit 42); resolves to what `validated environment` says of it.
   */
  validate(dryRun: boolean): Promise<StateFields>;
  /** Makes the state writable (the listing of remote directories records origin health early). */
  prepare(): Promise<void>;
  /** Lets the state go (a connection closed). Never throws. */
  close(): Promise<void>;
}

/**
 * The state `options.state` names. A Redis store is connected here, before the plan (it writes
 * nothing by connecting; the plan reads circuit states from it): unreachable, it is an
 * `EnvironmentError` (exit 42) — never a fall-back to local state.
 */
export async function openState(
  options: ResolvedOptions,
  clock: Clock,
  logger: Logger,
  failpoint?: Failpoint,
): Promise<RunState> {
  const { state } = options;
  if (state.kind === "local") {
    const store = localStore(options.lockDir, clock, logger, failpoint);
    return {
      store,
      validate: (dryRun) => checkLockDir(store, dryRun),
      prepare: () => store.ensureWritable(),
      close: async () => {},
    };
  }
  // Loaded only for a Redis run: a local one never pays for ioredis.
  const [{ closeRedis, connectRedis }, { RedisStateStore }] = await Promise.all([
    import("../state/redis/connection.js"),
    import("../state/redis/store.js"),
  ]);
  const { display } = state.redis;
  let client: Awaited<ReturnType<typeof connectRedis>>;
  try {
    client = await connectRedis(state.redis, logger);
  } catch (error) {
    throw new EnvironmentError(
      "state",
      (error as Error).name === "ReplicaError"
        ? `state store ${display} is a read-only replica: point --state at the primary`
        : `state store ${display} unreachable: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const store = new RedisStateStore({ client, clock, logger, prefix: state.prefix, display });
  return {
    store,
    validate: async () => ({ state: display }),
    prepare: async () => {},
    close: async () => {
      await store.settled().catch(() => {});
      closeRedis(client);
    },
  };
}

/**
 * A runtime for one run, its HTTP client (when any source is http(s): the plan lists remote
 * directories with it, so index pages and transfers share one pool, proxies and credentials),
 * and what must be closed when the run ends. `parts.credentials` is read when a source is opened,
 * so it may be filled after the plan.
 */
export async function buildRuntime(
  parts: RuntimeParts,
): Promise<{ runtime: Runtime; http: HttpClient | undefined; close: () => Promise<void> }> {
  const { options, store, clock, logger } = parts;
  const http = parts.needsHttp
    ? await HttpClient.create({
        timeoutMs: options.timeoutMs,
        headers: options.headers,
        network: options.network,
        userAgent: `resilient-sync/${parts.version}`,
        now: () => clock.now(),
        // A way back, should our own client misbehave somewhere: every request through undici.
        engine: process.env.RESILIENT_SYNC_HTTP_CLIENT === "undici" ? "undici" : "auto",
      })
    : undefined;
  const circuits = new Circuits(store, clock, logger, {
    ttlMs: options.circuitTtlMs,
    threshold: options.circuitThreshold,
  });
  const runtime: Runtime = {
    clock,
    logger,
    random: parts.random,
    store,
    health: new OriginHealth(new OriginGate(), circuits),
    sources: {
      open: (source) =>
        source.kind === "http" && http
          ? http.source(parts.credentials.get(source.href) ?? source.href, source.within)
          : new FileSource(source.href, source.within),
    },
    destinations: new LocalDestinations(),
    ...(options.limitRate === undefined
      ? {}
      : { limiter: new BandwidthLimit(clock, options.limitRate) }),
    backoffFactor: options.backoffFactor,
    leaseTtlMs: LEASE_TTL_MS,
    ...(parts.onProgress ? { onProgress: parts.onProgress } : {}),
    ...(parts.testHooks ? { testHooks: parts.testHooks } : {}),
  };
  return { runtime, http, close: async () => http?.close() };
}
