/**
 * `--metrics-file PATH`: the run's figures in Prometheus text format (0.0.4), for
 * node_exporter's textfile collector. Replaced atomically at the end of each run: written to a
 * new file beside it (never through a link planted there), fsynced, renamed over it, the folder
 * fsynced — a collector never reads half a file.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Logger } from "../log/events.js";
import type { CircuitState } from "../policies/breaker.js";
import type { StateStore } from "../state/store.js";
import { type Report, type Summary, Tally } from "./report.js";

export interface RunMetrics {
  summary: Summary;
  /** Attempts beyond the first, over all sources. */
  retries: number;
  durationMs: number;
  exitCode: number;
  /** Epoch milliseconds. */
  finishedAt: number;
  /** The circuit of each origin of the run, as it stands at the end. */
  circuits: Map<string, CircuitState>;
}

const LAST_SUCCESS = "resilient_sync_last_success_timestamp_seconds";

/** A label value, escaped as the text format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** The metrics as text; `lastSuccess` (epoch s) is the previous file's when this run failed. */
export function renderMetrics(metrics: RunMetrics, lastSuccess: number | undefined): string {
  const now = metrics.finishedAt / 1000;
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  const { summary } = metrics;
  gauge(
    "resilient_sync_sources",
    "Sources of the last run by outcome.",
    (["synced", "unchanged", "skipped", "failed"] as const).map((status) => [
      `{status="${status}"}`,
      summary[status],
    ]),
  );
  gauge("resilient_sync_bytes", "Body bytes received in the last run.", [["", summary.bytes]]);
  gauge("resilient_sync_duration_seconds", "How long the last run took.", [
    ["", metrics.durationMs / 1000],
  ]);
  gauge("resilient_sync_retries", "Attempts beyond the first in the last run.", [
    ["", metrics.retries],
  ]);
  gauge("resilient_sync_exit_code", "The last run's exit code.", [["", metrics.exitCode]]);
  gauge("resilient_sync_last_run_timestamp_seconds", "When the last run finished.", [["", now]]);
  const success = metrics.exitCode === 0 ? now : lastSuccess;
  if (success !== undefined) gauge(LAST_SUCCESS, "When a run last exited 0.", [["", success]]);
  gauge(
    "resilient_sync_circuit_open",
    "1 while the origin's circuit refuses work, else 0.",
    [...metrics.circuits].map(([origin, circuit]) => [
      `{origin="${label(origin)}"}`,
      isRefusing(circuit, metrics.finishedAt) ? 1 : 0,
    ]),
  );
  return `${lines.join("\n")}\n`;
}

function isRefusing(circuit: CircuitState, now: number): boolean {
  if (circuit.state === "open") return now < circuit.openUntil;
  if (circuit.state === "half_open") return now < circuit.probeUntil;
  return false;
}

/** The last success time of an earlier file at `path`, if it has one. */
async function previousSuccess(path: string): Promise<number | undefined> {
  const text = await readFile(path, "utf8").catch(() => "");
  const match = new RegExp(`^${LAST_SUCCESS} (\\S+)$`, "m").exec(text);
  const value = match ? Number(match[1]) : Number.NaN;
  return Number.isFinite(value) ? value : undefined;
}

/** Writes the metrics to `path` atomically (see the module's comment). Rejects on any I/O error. */
export async function writeMetricsFile(path: string, metrics: RunMetrics): Promise<void> {
  const text = renderMetrics(metrics, await previousSuccess(path));
  const folder = dirname(path);
  // node_exporter reads only `*.prom` files: a dot-file it skips while it is being written.
  const temp = join(folder, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  const file = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o644,
  );
  try {
    await file.writeFile(text);
    await file.sync();
  } catch (error) {
    await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
  await file.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const dir = await open(folder, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * Gathers the run's metrics (the circuits of `origins` read from `store`) and writes them to
 * `path`. A failure to write is a warning, not the run's failure: the files are synced either
 * way, and the alert on a stale `last_success` catches a metrics file that stays behind.
 */
export async function recordMetrics(
  path: string,
  run: {
    report: Report;
    retries: number;
    origins: Iterable<string>;
    store: Pick<StateStore, "readCircuit">;
    logger: Logger;
  },
): Promise<void> {
  const { report } = run;
  try {
    const circuits = new Map<string, CircuitState>();
    for (const origin of run.origins) circuits.set(origin, await run.store.readCircuit(origin));
    await writeMetricsFile(path, {
      summary: report.summary,
      retries: run.retries,
      durationMs: report.duration_ms,
      exitCode: report.exit_code,
      finishedAt: Date.parse(report.finished_at),
      circuits,
    });
  } catch (error) {
    run.logger.emit("warning", "metrics not written", {
      file: path,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * The metrics of a run that ended without a report (an unfit machine, 42; interrupted, 130/143;
 * an internal error): its exit code and the counts of what `finished` before it stopped (the
 * results its `--json` document lists; none when absent), so that an alert on the exit code
 * fires and the last success stays the one before. No circuit series: the run's origins were not
 * all asked. A usage error (64) writes none: the path itself may be what was wrong.
 */
export async function recordFailedRun(
  path: string,
  exitCode: number,
  startedAt: number,
  logger: Logger,
  finished?: { summary: Summary; retries: number },
): Promise<void> {
  const finishedAt = Date.now();
  try {
    await writeMetricsFile(path, {
      summary: finished?.summary ?? new Tally().summary(),
      retries: finished?.retries ?? 0,
      durationMs: finishedAt - startedAt,
      exitCode,
      finishedAt,
      circuits: new Map(),
    });
  } catch (error) {
    logger.emit("warning", "metrics not written", {
      file: path,
      reason: error instanceof Error ? error.message : String(error),
    });
  }
}
