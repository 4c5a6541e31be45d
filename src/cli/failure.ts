/** How a command that failed as a whole says why, and which exit code that is. */
import { EnvironmentError, UsageError } from "../errors.js";
import type { Logger } from "../log/events.js";
import { EXIT } from "../run/report.js";

/** Logs why the command failed (one well-formed line) and gives its exit code. */
export function failureExit(error: unknown, logger: Logger): number {
  if (error instanceof UsageError) {
    logger.emit("error", error.kind, { argument: error.argument, reason: error.message });
    return EXIT.usage;
  }
  if (error instanceof EnvironmentError) {
    logger.emit("error", "environment unfit", { check: error.check, reason: error.message });
    return EXIT.environment;
  }
  // A bug, not a user error: still one well-formed log line, and the "software error" exit.
  logger.emit("error", "internal error", {
    reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return EXIT.transfer;
}
