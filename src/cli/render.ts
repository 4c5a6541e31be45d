/**
 * What a person at a terminal sees on stderr: progress bars while the run goes (a total bar with
 * files done, bytes, rate and ETA; one bar per transfer in flight), then one line per source and
 * a summary. A subscriber to progress events; never used when stderr is not a TTY.
 */
import { basename } from "node:path";
import cliProgress from "cli-progress";
import type { ProgressEvent } from "../core/progress.js";
import { printable, type RetryNotice, retryCount } from "../log/human.js";
import {
  columnsOf,
  fitColumns,
  formatBytes,
  formatDuration,
  padColumns,
  progressText,
  RateMeter,
} from "./progress-text.js";

export { formatBytes, formatDuration };

import type { Report, SourceResult } from "../run/report.js";

/** Closing lines kept for sources that did not fail. */
const MAX_LINES = 1000;

interface Transfer {
  /** Absent past the bars the terminal has rows for: counted in the total, not drawn. */
  bar: cliProgress.SingleBar | undefined;
  name: string;
  received: number;
  total: number | undefined;
  rate: RateMeter;
  /** Set while the transfer waits to retry: when the wait ends, and what to say. */
  retry?: { until: number; label: string };
}

export class TerminalRenderer {
  readonly #stream: NodeJS.WriteStream;
  readonly #bars: cliProgress.MultiBar;
  readonly #transfers = new Map<string, Transfer>();
  readonly #rate = new RateMeter();
  #total: cliProgress.SingleBar | undefined;
  #planned = 0;
  /** Bytes of finished transfers (their files' sizes as received). */
  #finishedBytes = 0;
  #done = 0;
  #stopped = false;
  readonly #ticker: NodeJS.Timeout;
  /** The closing lines of results taken with `record` (a run that keeps no results). */
  readonly #lines: string[] = [];
  #unlisted = 0;

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
          // A tab in a name would move the cursor by up to eight columns: shown as `\t`.
          const label = printable(payload.label).replaceAll("\t", "\\t");
          const line = `${padColumns(label, 24)} ${bar} ${payload.detail}`;
          // Never wider than the terminal: a wrapped bar line is redrawn as garbage.
          const columns = stream.columns || 80;
          return columnsOf(line) > columns - 1 ? `${fitColumns(line, columns - 2)}…` : line;
        },
      },
      cliProgress.Presets.shades_classic,
    );
    // Countdowns and rates change without new bytes: redrawn a few times a second.
    this.#ticker = setInterval(() => this.#refresh(), 250);
    this.#ticker.unref();
    // Ctrl-Z: the shell gets its terminal back as it lent it (cursor shown, lines wrapping)
    // before the process stops; bars resume as they were once it is continued (`fg`).
    if (stream.isTTY === true) {
      process.on("SIGTSTP", this.#suspend);
      process.on("SIGCONT", this.#resume);
    }
  }

  readonly #suspend = () => {
    this.#stream.write(`${ESC}[?25h${ESC}[?7h`);
    process.kill(process.pid, "SIGSTOP");
  };

  readonly #resume = () => {
    if (this.#stopped) return;
    this.#stream.write(`${ESC}[?25l${ESC}[?7l`);
    this.#refresh();
  };

  /** Prints a line above the bars (warnings and errors while bars are shown). */
  log(line: string): void {
    if (this.#stopped || !this.#total) {
      this.#stream.write(line);
      return;
    }
    // The bars turn the terminal's line wrapping off: a long line would be cut at the edge, its
    // reason lost. Broken into rows that fit instead.
    // A terminal whose size nobody set (a pty under `script`, some `docker exec`s) says 0.
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    const text = line.endsWith("\n") ? line.slice(0, -1) : line;
    const rows: string[] = [];
    for (let rest = text; rest.length > 0 || rows.length === 0; ) {
      // At least one character a row, however wide: the loop ends.
      const row = fitColumns(rest, width) || (Array.from(rest)[0] ?? "");
      rows.push(row);
      rest = rest.slice(row.length);
    }
    this.#bars.log(`${rows.join("\n")}\n`);
    // cli-progress prints logged lines at its next redraw, and drops them if it stops first.
    this.#bars.update();
  }

  /** A transfer waits `delayMs` before attempt `attempt`: its bar counts down. */
  onRetry(notice: RetryNotice): void {
    const transfer = this.#transfers.get(keyOf(notice));
    if (!transfer) return;
    transfer.retry = {
      until: performance.now() + notice.delayMs,
      label: `${notice.reason}, retry ${retryCount(notice)}`,
    };
    this.#refresh();
  }

  onProgress(event: ProgressEvent): void {
    if (this.#stopped) return;
    const now = performance.now();
    switch (event.type) {
      case "planned":
        this.#planned = event.total;
        this.#total = this.#bars.create(Math.max(event.total, 1), 0, {
          label: "total",
          detail: "",
        });
        this.#refresh();
        return;
      case "started": {
        const name = basename(event.destination);
        const drawn = [...this.#transfers.values()].filter((transfer) => transfer.bar).length;
        // Never more bars than rows: a screen that overflows scrolls bar fragments away.
        const room = Math.max(1, (this.#stream.rows || 24) - 4);
        this.#transfers.set(keyOf(event), {
          bar: drawn < room ? this.#bars.create(1, 0, { label: name, detail: "" }) : undefined,
          name,
          received: 0,
          total: undefined,
          rate: new RateMeter(),
        });
        return;
      }
      case "bytes": {
        this.#rate.add(now, event.chunk);
        const transfer = this.#transfers.get(keyOf(event));
        if (transfer) {
          transfer.received = event.received;
          transfer.total = event.total;
          transfer.rate.add(now, event.chunk);
          delete transfer.retry;
          if (event.total !== undefined) transfer.bar?.setTotal(Math.max(event.total, 1));
        }
        this.#refresh();
        return;
      }
      case "finished": {
        const key = keyOf(event.result);
        const transfer = this.#transfers.get(key);
        if (transfer) {
          if (transfer.bar) {
            transfer.bar.stop();
            this.#bars.remove(transfer.bar);
          }
          this.#transfers.delete(key);
        }
        this.#finishedBytes += transfer?.total ?? transfer?.received ?? 0;
        this.#done += 1;
        this.#refresh();
        return;
      }
    }
  }

  #refresh(): void {
    if (this.#stopped) return;
    const now = performance.now();
    let hidden = 0;
    for (const transfer of this.#transfers.values()) {
      const { retry } = transfer;
      if (!transfer.bar) {
        hidden += 1;
        continue;
      }
      const detail = retry
        ? `↻ ${retry.label} in ${formatDuration(Math.max(0, retry.until - now))}`
        : progressText(transfer.received, transfer.total, transfer.rate.perSecond(now));
      transfer.bar.update(transfer.total === undefined ? 0 : transfer.received, { detail });
    }
    const total = this.#total;
    if (!total) return;
    // Bytes expected: every file whose size is known (finished, or told by its answer). Files
    // not started yet are of unknown size: the total is then a floor ("≥"), with no ETA.
    let expected = this.#finishedBytes;
    let received = this.#finishedBytes;
    let unknown = this.#planned - this.#done;
    for (const transfer of this.#transfers.values()) {
      received += transfer.received;
      if (transfer.total !== undefined) {
        expected += transfer.total;
        unknown -= 1;
      }
    }
    const rate = this.#rate.perSecond(now);
    const bytes =
      unknown > 0
        ? `${formatBytes(received)}${expected > 0 ? ` / ≥${formatBytes(expected)}` : ""} · ${formatBytes(Math.round(rate))}/s`
        : progressText(received, expected, rate);
    total.setTotal(Math.max(unknown > 0 ? this.#planned : expected, 1));
    total.update(unknown > 0 ? this.#done : received, {
      detail: `${this.#done}/${this.#planned} files · ${bytes}${hidden > 0 ? ` · ${hidden} more in flight` : ""}`,
    });
  }

  /**
   * Keeps the closing line of one result, for a run whose report keeps none: every failure, and
   * the first `MAX_LINES` others (a million-file run must not keep a million lines).
   */
  record(result: SourceResult): void {
    if (result.status === "failed" || this.#lines.length < MAX_LINES)
      this.#lines.push(this.#line(result));
    else this.#unlisted += 1;
  }

  /** Stops the bars and prints one line per source (recorded, then the report's) and a summary. */
  finish(report: Report): void {
    this.stop();
    const lines = [...this.#lines, ...report.results.map((result) => this.#line(result))];
    if (this.#unlisted > 0) lines.push(`… and ${this.#unlisted} more (--json lists every one)`);
    const { summary } = report;
    lines.push(
      `${summary.total} ${summary.total === 1 ? "source" : "sources"}: ${summary.synced} synced, ${summary.unchanged} up to date, ${summary.skipped} skipped, ${summary.failed} failed · ${formatBytes(summary.bytes)} in ${formatDuration(report.duration_ms)} · exit ${report.exit_code}`,
    );
    this.#stream.write(`${lines.map(printable).join("\n")}\n`);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#ticker);
    process.off("SIGTSTP", this.#suspend);
    process.off("SIGCONT", this.#resume);
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

const ESC = String.fromCharCode(27);

/** Transfers are told apart by source and destination: refused sources may share a destination. */
function keyOf(event: { source: string; destination: string }): string {
  return `${event.source}\0${event.destination}`;
}
