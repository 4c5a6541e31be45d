/**
 * How a run lists its remote directories: with the runtime's HTTP client (index pages and
 * transfers share one pool, proxies and credentials), its origin health, and the run's retry
 * settings. Shared by a run on this machine and by `enqueue`, which plans the same way.
 */
import type { Clock } from "../clock.js";
import type { Runtime } from "../core/runtime.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import type { HttpClient } from "../sources/http/client.js";
import type { RemoteListing } from "./remote-dirs.js";

/** The listing for a plan, or undefined when no source is http(s) (no client was made). */
export function remoteListing(parts: {
  http: HttpClient | undefined;
  runtime: Runtime;
  options: ResolvedOptions;
  /** Makes the state writable: the listing records origin health as it goes. */
  prepareState: () => Promise<void>;
  clock: Clock;
  logger: Logger;
  delayScale: number;
  signal: AbortSignal;
}): RemoteListing | undefined {
  const { http, runtime, options } = parts;
  return (
    http && {
      client: http,
      health: runtime.health,
      // A dry run writes nothing, circuit records included: it only reads them.
      recordsHealth: !options.dryRun,
      prepareState: parts.prepareState,
      clock: parts.clock,
      random: runtime.random,
      logger: parts.logger,
      maxAttempts: options.maxAttempts,
      retryMaxTimeMs: options.retryMaxTimeMs,
      backoffFactor: options.backoffFactor,
      delayScale: parts.delayScale,
      signal: parts.signal,
    }
  );
}
