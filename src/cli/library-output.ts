/**
 * What libraries print. ioredis (a password given to a Redis that asks for none, a failing
 * ready check) and BullMQ write to `console.warn` and `console.error` themselves; on the CLI's
 * stderr that would be a raw line among the JSON ones, breaking `jq` pipelines and log shippers.
 * The CLI routes both to its logger instead, as `library warning` lines (redacted like any
 * other). The library never calls this: a host's console is its host's business.
 */
import { format } from "node:util";
import type { Logger } from "../log/events.js";

/** Sends `console.warn` and `console.error` of this process to `logger` from now on. */
export function routeConsoleTo(logger: Logger): void {
  const log = (...args: unknown[]) =>
    logger.emit("warning", "library warning", { reason: format(...args) });
  console.warn = log;
  console.error = log;
}
