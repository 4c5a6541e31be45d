/** A Redis the fleet needs, checked before anything is queued or taken: never a silent hang. */

import type { Redis } from "ioredis";
import { EnvironmentError } from "../errors.js";
import type { Logger } from "../log/events.js";
import { closeRedis, connectRedis, ReplicaError } from "../state/redis/connection.js";
import type { RedisLocation } from "../state/redis/location.js";

/**
 * Resolves once `location` answers a PING; throws `EnvironmentError` (exit 42) naming `flag`
 * otherwise. BullMQ's own connections wait out outages forever, which is right once running and
 * wrong at start: a mistyped host must be an error, not a process that waits.
 */
export async function checkReachable(
  location: RedisLocation,
  flag: string,
  logger: Logger,
): Promise<void> {
  closeRedis(await connectReachable(location, flag, logger));
}

/** `checkReachable`, keeping the connection (fail-fast: a command while Redis is away errs). */
export async function connectReachable(
  location: RedisLocation,
  flag: string,
  logger: Logger,
): Promise<Redis> {
  let client: Redis;
  try {
    client = await connectRedis(location, logger);
  } catch (error) {
    throw new EnvironmentError(
      flag.replace(/^--/, ""),
      error instanceof ReplicaError
        ? `${flag} ${location.display} is a read-only replica: point ${flag} at the primary`
        : `${flag} ${location.display} unreachable: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return client;
}
