/**
 * SIGINT and SIGTERM for a command: the first aborts the returned signal (the command stops
 * safely and says so: exit 130 or 143), a second ends the process at once.
 */
import type { Logger } from "../log/events.js";
import { EXIT } from "../run/report.js";

const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

/** The reason an aborted command's signal carries. */
export class Interrupted extends Error {
  readonly signal: string;
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }

  /** 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return SIGNAL_EXIT[this.signal] ?? EXIT.sigterm;
  }
}

/**
 * Traps both signals for the rest of the process. `beforeHardExit` runs before a second signal
 * ends the process (a streamed document is closed whole there).
 */
export function trapSignals(
  logger: Logger,
  beforeHardExit: (code: number) => void = () => {},
): AbortSignal {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      const code = SIGNAL_EXIT[signal] ?? EXIT.sigterm;
      beforeHardExit(code);
      process.exit(code);
    }
    logger.emit("warning", "interrupted", { signal });
    controller.abort(new Interrupted(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return controller.signal;
}
