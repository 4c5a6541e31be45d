/** What the fleet's processes say when the queue's Redis goes away and comes back. */
import type { Logger } from "../log/events.js";

/** A BullMQ `Queue`, `QueueEvents` or `Worker`: errors as events, a client that reconnects. */
interface Watched {
  on(event: "error", listener: (error: Error) => void): unknown;
  readonly client: Promise<{ on(event: "ready", listener: () => void): unknown }>;
}

/**
 * Logs `queue unreachable` once per cause while the queue's Redis is away (ioredis reports
 * every failed reconnect; a log line each would bury everything else) and `queue reachable
 * again` once it answers. One instance per process: several connections to the same Redis
 * make one story.
 */
export class QueueOutage {
  #down = false;
  #lastReason = "";

  constructor(
    private readonly display: string,
    private readonly logger: Logger,
  ) {}

  /** Follows `watched`'s errors and its client's reconnects. Resolves once listening. */
  async watch(watched: Watched): Promise<void> {
    watched.on("error", (error) => this.lost(error.message));
    (await watched.client).on("ready", () => this.back());
  }

  /**
   * A logger for a connection made by `connectRedis`: its "state store" outage lines become this
   * queue's (the connection is the queue's, not a state store's); anything else passes through.
   */
  asLogger(): Logger {
    return {
      emit: (level, message, fields) => {
        if (message === "state store unreachable") this.lost((fields as { reason: string }).reason);
        else if (message === "state store reachable again") this.back();
        else this.logger.emit(level, message, fields);
      },
    };
  }

  lost(reason: string): void {
    if (this.#down && reason === this.#lastReason) return;
    this.#down = true;
    this.#lastReason = reason;
    this.logger.emit("warning", "queue unreachable", { queue: this.display, reason });
  }

  back(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#lastReason = "";
    this.logger.emit("info", "queue reachable again", { queue: this.display });
  }
}
