/**
 * The one place where concrete classes are chosen: the local file store, the local destination,
 * the http(s) client (our HTTP/1.1 client, undici through proxies), the local file reader, the circuit breaker over the store. Everything else
 * receives them through the `Runtime`.
 */
import type { Clock } from "../clock.js";
import type { ProgressEvent } from "../core/progress.js";
import type { Runtime } from "../core/runtime.js";
import { LocalDestinations } from "../destinations/local/destinations.js";
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
    leaseTtlMs: LEASE_TTL_MS,
    ...(parts.onProgress ? { onProgress: parts.onProgress } : {}),
    ...(parts.testHooks ? { testHooks: parts.testHooks } : {}),
  };
  return { runtime, http, close: async () => http?.close() };
}
