/**
 * Failpoints: named places where a crash test can freeze the process to SIGKILL it at exactly
 * that moment (after the lock is taken, after the part file is fsynced, between rename and
 * marker …). Without a failpoint set they cost one comparison.
 */
import type { Logger } from "./log/events.js";

export type FailpointName =
  | "after-lock"
  | "before-rename"
  /** In the commit: the part has its final owner and mode, and is about to be fsynced. */
  | "part-sealed"
  | "after-rename"
  | "marker-written"
  /** `enqueue`: the batch's first round of jobs is on the queue. */
  | "enqueue-chunk-added";

export type Failpoint = (name: FailpointName) => Promise<void>;

export const noFailpoint: Failpoint = async () => {};

/**
 * A failpoint that freezes at `target`: it logs `paused at failpoint` and never returns (the
 * test kills the process). `target` comes from `$RESILIENT_SYNC_FAILPOINT` in the CLI. With a
 * `:stop` suffix (`before-rename:stop`) the process stops itself there (SIGSTOP) instead, and
 * goes on from that very point once continued (SIGCONT): a holder paused at the worst moment.
 */
export function freezeAt(target: string | undefined, logger: Logger): Failpoint {
  if (!target) return noFailpoint;
  const [point, action] = target.split(":");
  return async (name) => {
    if (name !== point) return;
    logger.emit("warning", "paused at failpoint", { failpoint: name });
    if (action === "stop") {
      process.kill(process.pid, "SIGSTOP");
      return;
    }
    await new Promise(() => {
      setInterval(() => {}, 1 << 30);
    });
  };
}
