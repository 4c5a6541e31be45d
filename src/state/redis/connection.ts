/**
 * The connection to the Redis of a `--state redis://…` store, set up so that a dead Redis is an
 * error, never a hang: connected explicitly (`lazyConnect`) within a timeout, no offline queue
 * (a command while disconnected fails at once), one retry per command at most, and a timeout on
 * every command (a Redis that accepts connections but never answers). Between commands it keeps
 * reconnecting in the background, so a short outage heals before any lease runs out.
 */
import { Redis } from "ioredis";
import type { Logger } from "../../log/events.js";
import type { RedisLocation } from "./location.js";

export const CONNECT_TIMEOUT_MS = 3000;
/** Longer than any of the store's commands may take; far shorter than a lease. */
export const COMMAND_TIMEOUT_MS = 2000;
const RECONNECT_MAX_MS = 1000;

/** Connections closed on purpose (`closeRedis`): their end is not an outage. */
const closing = new WeakSet<Redis>();

/** Closes a connection made by `connectRedis` at once, quietly. */
export function closeRedis(client: Redis): void {
  closing.add(client);
  client.disconnect();
}

/** Why a connection failed, in words fit for a log line (no secret: ioredis never quotes the password). */
function reasonOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return reasonOf(error.errors[0]);
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Connects to the Redis at `location` and checks it answers (`PING`). Rejects with an `Error`
 * that says why (refused, timed out, refused the credentials …); nothing is left open then.
 * Once connected, losing the connection and getting it back are logged once each.
 */
export async function connectRedis(location: RedisLocation, logger: Logger): Promise<Redis> {
  let lastError: unknown;
  let connected = false;
  let down = false;
  const client = new Redis({
    host: location.host,
    port: location.port,
    db: location.db,
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectionName: "resilient-sync",
    retryStrategy: (times) => Math.min(100 * times, RECONNECT_MAX_MS),
  });
  const wentDown = (reason: string) => {
    if (!connected || down || closing.has(client)) return;
    down = true;
    logger.emit("warning", "state store unreachable", { state: location.display, reason });
  };
  client.on("error", (error: unknown) => {
    lastError = error;
    wentDown(reasonOf(error));
  });
  // A server that goes away cleanly (shut down, restarted) closes the connection without an error.
  client.on("close", () => wentDown("the connection closed"));
  client.on("ready", () => {
    if (down) logger.emit("info", "state store reachable again", { state: location.display });
    down = false;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CONNECT_TIMEOUT_MS} ms`)),
          CONNECT_TIMEOUT_MS,
        );
      }),
    ]);
    await client.ping();
    // ioredis selects the db on connect but only logs a refusal, then serves db 0: a db the
    // server does not have must be an error, never writes to another db.
    await client.select(location.db);
    await refuseReplica(client);
    connected = true;
    return client;
  } catch (error) {
    client.disconnect();
    if (error instanceof ReplicaError) throw error;
    // "Connection is closed." says little: the error event before it says why.
    throw new Error(reasonOf(lastError ?? error));
  } finally {
    clearTimeout(timer);
  }
}

/** The Redis answers but is a replica: every write would be refused (`READONLY`). */
export class ReplicaError extends Error {
  override readonly name = "ReplicaError";
}

/**
 * Refuses a replica (a stale primary after a failover answers PING, then refuses every write):
 * found at start, not job by job. `ROLE`, else `INFO replication` when ROLE is renamed away;
 * when neither may be run (a managed Redis), it is not checked.
 */
async function refuseReplica(client: Redis): Promise<void> {
  const role = await client
    .role()
    .then((reply) => String((reply as unknown[])[0]))
    .catch(() =>
      client
        .info("replication")
        .then((text) => /^role:(\w+)/m.exec(text)?.[1] ?? "unknown")
        .catch(() => "unknown"),
    );
  if (role === "slave" || role === "replica")
    throw new ReplicaError("it is a read-only replica: point it at the primary");
}
