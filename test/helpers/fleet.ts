/**
 * A fleet for the tests: real worker processes (the CLI's `worker`) on a real redis-server,
 * each ready once it says so; and the CLI's `enqueue`. Every test gets its own key prefix, so
 * tests sharing one Redis never see each other's queue or state.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { CliProcess, type CliResult, type LogLine, type RunOptions, runCli } from "./cli.js";

/** A prefix no other test uses: `--state-prefix` keeps queues and state apart. */
export function freshPrefix(): string {
  return `t${randomBytes(4).toString("hex")}:`;
}

export interface Fleet {
  readonly queue: string;
  readonly prefix: string;
  /** Starts a worker and resolves once it takes jobs. */
  startWorker(...extra: string[]): Promise<CliProcess>;
  /** `startWorker`, run as `how` says (inside a namespace, say). */
  startWorkerWith(how: RunOptions, ...extra: string[]): Promise<CliProcess>;
  /** Runs `enqueue` to its end. */
  enqueue(...args: string[]): Promise<CliResult>;
  /** `enqueue`, run as `how` says. */
  enqueueWith(how: RunOptions, ...args: string[]): Promise<CliResult>;
  /** Starts `enqueue` and returns at once: the test signals it or waits for its logs. */
  spawnEnqueue(args: string[], how?: RunOptions): CliProcess;
  /** SIGTERMs every worker still running and waits for them. */
  stopAll(): Promise<void>;
}

export function fleetOn(queue: string, prefix = freshPrefix()): Fleet {
  const workers: CliProcess[] = [];
  const common = ["--queue", queue, "--state-prefix", prefix];
  return {
    queue,
    prefix,
    startWorker(...extra) {
      return this.startWorkerWith({}, ...extra);
    },
    async startWorkerWith(how, ...extra) {
      const worker = new CliProcess(["worker", ...common, ...extra], how);
      workers.push(worker);
      await worker.waitForLog("worker started", 15_000);
      return worker;
    },
    enqueue: (...args) => runCli(["enqueue", ...common, ...args]),
    enqueueWith: (how, ...args) => runCli(["enqueue", ...common, ...args], how),
    spawnEnqueue: (args, how = {}) => new CliProcess(["enqueue", ...common, ...args], how),
    async stopAll() {
      for (const worker of workers) {
        if (worker.child.exitCode === null && worker.child.signalCode === null)
          worker.child.kill("SIGTERM");
      }
      await Promise.all(workers.map((worker) => worker.done));
    },
  };
}

/** Resolves once the workers together have logged `count` lines that `match`; rejects after `timeoutMs`. */
export async function untilLogged(
  workers: CliProcess[],
  match: (line: LogLine) => boolean,
  count: number,
  timeoutMs = 20_000,
): Promise<LogLine[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const lines = workers.flatMap((worker) => worker.logs().filter(match));
    if (lines.length >= count) return lines;
    signal.throwIfAborted();
    // Any worker's next output (or the timeout) is the next moment to look again.
    await Promise.race(
      workers.map((worker) => once(worker.child, "output", { signal }).catch(() => {})),
    );
  }
}
