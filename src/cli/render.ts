/**
 * What a person at a terminal sees on stderr: progress bars while the run goes (a total bar with
 * files done, bytes, rate and ETA; one bar per transfer in flight), then one line per source and
 * a summary. A subscriber to progress events; never used when stderr is not a TTY.
 */
import { basename } from "node:path";
import cliProgress from "cli-progress";
import type { ProgressEvent } from "../core/progress.js";
import type { Report, SourceResult } from "../run/report.js";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

interface Transfer {
  bar: cliProgress.SingleBar;
  sized: boolean;
}

export class TerminalRenderer {
  readonly #stream: NodeJS.WriteStream;
  readonly #bars: cliProgress.MultiBar;
  readonly #transfers = new Map<string, Transfer>();
  readonly #startedAt = performance.now();
  #total: cliProgress.SingleBar | undefined;
  #bytes = 0;
  #done = 0;
  #stopped = false;
  /** The closing lines of results taken with `record` (a run that keeps no results). */
  readonly #lines: string[] = [];

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
    this.#bars = new cliProgress.MultiBar(
      {
        stream,
        hideCursor: true,
        clearOnComplete: true,
        gracefulExit: false,
        // Forced with --progress into a pipe or file: a plain line every few seconds.
        noTTYOutput: stream.isTTY !== true,
        notTTYSchedule: 2000,
        fps: 10,
        barsize: 24,
        autopadding: true,
        format: (options, params, payload: { label: string; detail: string }) => {
          const width = options.barsize ?? 24;
          const filled = Math.round(Math.min(1, params.progress) * width);
          const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
          return `${payload.label.padEnd(28).slice(0, 28)} ${bar} ${payload.detail}`;
        },
      },
      cliProgress.Presets.shades_classic,
    );
  }

  /** Prints a line above the bars (warnings and errors while bars are shown). */
  log(line: string): void {
    if (this.#stopped || !this.#total) {
      this.#stream.write(line);
      return;
    }
    this.#bars.log(line);
    // cli-progress prints logged lines at its next redraw, and drops them if it stops first.
    this.#bars.update();
  }

  onProgress(event: ProgressEvent): void {
    if (this.#stopped) return;
    switch (event.type) {
      case "planned":
        this.#total = this.#bars.create(Math.max(event.total, 1), 0, {
          label: "total",
          detail: "",
        });
        this.#updateTotal(event.total);
        return;
      case "started":
        this.#transfers.set(keyOf(event), {
          bar: this.#bars.create(1, 0, { label: basename(event.destination), detail: "" }),
          sized: false,
        });
        return;
      case "bytes": {
        this.#bytes += event.chunk;
        const transfer = this.#transfers.get(keyOf(event));
        if (transfer) {
          if (!transfer.sized && event.total !== undefined) {
            transfer.bar.setTotal(Math.max(event.total, 1));
            transfer.sized = true;
          }
          const size = event.total === undefined ? "" : ` / ${formatBytes(event.total)}`;
          transfer.bar.update(event.total === undefined ? 0 : event.received, {
            detail: `${formatBytes(event.received)}${size}`,
          });
        }
        this.#updateTotal();
        return;
      }
      case "finished": {
        const key = keyOf(event.result);
        const transfer = this.#transfers.get(key);
        if (transfer) {
          transfer.bar.stop();
          this.#bars.remove(transfer.bar);
          this.#transfers.delete(key);
        }
        this.#done += 1;
        this.#updateTotal();
        return;
      }
    }
  }

  #updateTotal(planned?: number): void {
    const total = this.#total;
    if (!total) return;
    const elapsed = (performance.now() - this.#startedAt) / 1000;
    const rate = elapsed > 0 ? this.#bytes / elapsed : 0;
    const files = planned ?? total.getTotal();
    const left = files - this.#done;
    const perFile = this.#done > 0 ? elapsed / this.#done : undefined;
    const eta =
      perFile === undefined || left <= 0 ? "" : ` · ETA ${formatDuration(perFile * left * 1000)}`;
    total.update(this.#done, {
      detail: `${this.#done}/${files} files · ${formatBytes(this.#bytes)} · ${formatBytes(rate)}/s${eta}`,
    });
  }

  /** Keeps the closing line of one result, for a run whose report keeps none. */
  record(result: SourceResult): void {
    this.#lines.push(this.#line(result));
  }

  /** Stops the bars and prints one line per source (recorded, then the report's) and a summary. */
  finish(report: Report): void {
    this.stop();
    const lines = [...this.#lines, ...report.results.map((result) => this.#line(result))];
    const { summary } = report;
    lines.push(
      `${summary.total} sources: ${summary.synced} synced, ${summary.unchanged} up to date, ${summary.skipped} skipped, ${summary.failed} failed · ${formatBytes(summary.bytes)} in ${formatDuration(report.duration_ms)} · exit ${report.exit_code}`,
    );
    this.#stream.write(`${lines.join("\n")}\n`);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#bars.update();
    this.#bars.stop();
  }

  #line(result: SourceResult): string {
    const mark = result.status === "failed" ? "✗" : "✓";
    const name = basename(result.destination) || result.source;
    const what =
      result.status === "failed"
        ? `${result.error?.code}: ${result.error?.message}`
        : result.status === "unchanged"
          ? "up to date"
          : result.status;
    return `${mark} ${name}  ${formatBytes(result.bytes)}  ${formatDuration(result.duration_ms)}  ${what}`;
  }
}

/** Transfers are told apart by source and destination: refused sources may share a destination. */
function keyOf(event: { source: string; destination: string }): string {
  return `${event.source}\0${event.destination}`;
}
