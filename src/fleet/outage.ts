/** What the fleet's processes say when the queue's Redis goes away and comes back. */
import type { Logger } from "../log/events.js";

/**
 * BullMQ's errors about one job (its lock lost or renewed too late, the job finished, moved or
 * removed elsewhere): no outage.
 */
const JOB_LOCK_ERROR =
  /^(could not renew lock for job|Missing lock for job|Lock mismatch for job|Missing key for job|Job \S+ is not in the active state)/;

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
  /** The causes already said during this outage (ioredis alternates between a few). */
  readonly #said = new Set<string>();

  constructor(
    private readonly display: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Follows `watched`'s errors and its client's reconnects. Returns at once: its client exists
   * only once connected, which may be never (Redis away), and nothing must wait on that here.
   */
  watch(watched: Watched): void {
    watched.on("error", (error) => {
      // A job's lock it could not renew, or a job another worker finished meanwhile, is no
      // outage: an alert on `queue unreachable` must not fire for them. Anything else still is
      // (BullMQ's own test for connection errors misses ETIMEDOUT, ECONNRESET, READONLY …).
      if (JOB_LOCK_ERROR.test(error.message))
        this.logger.emit("warning", "queue error", { queue: this.display, reason: error.message });
      else this.lost(error.message);
    });
    watched.client.then(
      (client) => client.on("ready", () => this.back()),
      () => {},
    );
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
    if (this.#said.has(reason)) return;
    this.#down = true;
    this.#said.add(reason);
    this.logger.emit("warning", "queue unreachable", { queue: this.display, reason });
  }

  back(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#said.clear();
    this.logger.emit("info", "queue reachable again", { queue: this.display });
  }
}
