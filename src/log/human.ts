/**
 * What a person at a terminal reads instead of JSON: warnings and errors as short lines
 * (`✗ data.bin: HTTP 503, retry 2/5 in 2.0 s`). Used only when stderr is a terminal and no
 * `--json` document is written; pipes, files and CI keep the JSON lines (README, "Logs").
 */
import { basename } from "node:path";
import type { EventFields, Level, Logger, Message } from "./events.js";
import type { Redactor } from "./redact.js";

/** A retry about to be waited for: what the progress display counts down. */
export interface RetryNotice {
  source: string;
  destination: string;
  attempt: number;
  maxAttempts: number | undefined;
  delayMs: number;
  reason: string;
}

/** `2/5`; past the budget (attempts that made progress are free), the count alone. */
export function retryCount(notice: Pick<RetryNotice, "attempt" | "maxAttempts">): string {
  const { attempt, maxAttempts } = notice;
  return maxAttempts && attempt <= maxAttempts ? `${attempt}/${maxAttempts}` : String(attempt);
}

export interface HumanTerminalOptions {
  /** Where the JSON lines go (info and debug: stdout or nowhere, as before). */
  json: Logger;
  /** Writes one line (newline included) to the terminal. */
  write: (line: string) => void;
  redactor: Redactor;
  minLevel: Level;
  /** Told of every retry wait (the progress display shows its countdown). */
  onRetry?: (notice: RetryNotice) => void;
  /** The progress display prints its own summary: `synchronization complete` is not repeated. */
  summaryShown?: boolean;
  /** Info and debug lines would land on this terminal too (stdout is it, or `-o -`/`--json`). */
  infoOnTerminal?: boolean;
}

const LEVEL_RANK: Record<Level, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/** C0 and C1 control characters (ESC, BEL, CSI, newlines …), but not the tab. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;

/**
 * `text` safe to print on a terminal: a file name holding `ESC ] 0 ; … BEL` must not retitle the
 * window or recolour the screen of the person reading it. Control characters become `\xNN`.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * A logger that writes warnings, errors and retry waits as human lines to the terminal and
 * hands everything else to the JSON logger.
 */
export function humanTerminal(options: HumanTerminalOptions): Logger {
  // The last failure of each transfer and its attempt budget: a retry line says why and how many.
  const lastFailure = new Map<string, string>();
  const budget = new Map<string, number>();
  // What an error line already said of a transfer: its `synchronization failed` saying the same
  // again is left out (a 404 was three lines: the failure, that again, the summary).
  const said = new Map<string, string>();
  const say = (text: string) => options.write(`${printable(options.redactor.scrub(text))}\n`);
  return {
    emit<M extends Message>(level: Level, message: M, fields: EventFields[M]): void {
      const f = fields as Record<string, unknown>;
      const key = `${f.source}\0${f.destination}`;
      if (message === "attempting download") budget.set(key, Number(f.max_attempts));
      if (message === "download failed") {
        const reason = shortReason(f);
        lastFailure.set(key, reason);
        if (f.retryable) return; // said with its retry wait
      }
      if (message === "sleeping before retry") {
        const delayMs = Number(f.delay_ms);
        const notice: RetryNotice = {
          source: String(f.source),
          destination: String(f.destination),
          attempt: Number(f.next_attempt),
          maxAttempts: budget.get(key),
          delayMs,
          reason: lastFailure.get(key) ?? "failed",
        };
        options.onRetry?.(notice);
        if (LEVEL_RANK[options.minLevel] <= LEVEL_RANK.warning)
          say(
            `↻ ${nameOf(f)}: ${notice.reason}, retry ${retryCount(notice)} in ${seconds(delayMs)}`,
          );
        return;
      }
      // A pair's last word: what was kept for its retry lines goes (a no-op run of 100,000 files
      // kept an entry per file).
      if (
        message === "download successful" ||
        message === "synchronization failed" ||
        message === "exhausted retries" ||
        message === "destination already up-to-date" ||
        message === "another synchronization is in progress" ||
        message === "lock lost"
      ) {
        lastFailure.delete(key);
        budget.delete(key);
      }
      if (level !== "warning" && level !== "error") {
        // Info and debug bound for this same terminal would be JSON among sentences: shown as
        // sentences too when asked for (-v, --log-level), else left to the closing summary.
        if (options.infoOnTerminal) {
          // The bars' own summary says it (-v said it twice).
          if (message === "synchronization complete" && options.summaryShown) return;
          // A dry run's answer is its "would fetch" lines: said at the default level too.
          const asked =
            message === "would fetch" && LEVEL_RANK[options.minLevel] <= LEVEL_RANK.info;
          if (
            asked ||
            (LEVEL_RANK[level] >= LEVEL_RANK[options.minLevel] && options.minLevel !== "info")
          )
            say(`· ${humanLine(level, message, f)?.slice(2) ?? message}`);
          return;
        }
        options.json.emit(level, message, fields);
        return;
      }
      if (LEVEL_RANK[level] < LEVEL_RANK[options.minLevel]) return;
      if (message === "synchronization complete" && options.summaryShown) return;
      if (message === "synchronization failed") {
        const repeated = said.get(key) === shortReason(f);
        said.delete(key);
        if (repeated) return;
      } else if (level === "error" && f.source !== undefined) said.set(key, shortReason(f));
      const line = humanLine(level, message, f);
      if (line !== undefined) say(line);
    },
  };
}

/** One event as a line, or undefined when the closing summary says it better. */
export function humanLine(
  level: Level,
  message: string,
  f: Record<string, unknown>,
): string | undefined {
  const mark = level === "error" ? "✗" : "⚠";
  switch (message) {
    case "unknown argument":
    case "invalid argument":
      return `resilient-sync: ${f.reason}${String(f.reason).includes("--help") ? "" : " (see resilient-sync --help)"}`;
    case "environment unfit":
    case "internal error":
      return `resilient-sync: ${f.reason}`;
    case "download failed":
      return `✗ ${nameOf(f)}: ${shortReason(f)}`;
    case "exhausted retries":
      return `✗ ${nameOf(f)}: gave up after ${f.attempts} attempts: ${shortReason(f)}`;
    case "checksum mismatch":
      return `✗ ${nameOf(f)}: checksum mismatch (${f.algorithm} expected ${String(f.expected).slice(0, 12)}…, got ${String(f.actual).slice(0, 12)}…)`;
    case "circuit breaker opened":
      return `⚠ ${f.origin}: circuit opened after ${f.consecutive_failures} failures; its sources are refused for ${f.open_seconds} s`;
    case "circuit breaker open":
      return `✗ ${nameOf(f)}: circuit open for ${f.origin}, retry in ${f.seconds_until_retry} s`;
    case "another synchronization is in progress":
      return `⚠ ${nameOf(f)}: skipped, another run holds its lock`;
    case "synchronization complete":
      // Every count, as the bars' summary gives them: "0 of 1 failed" said nothing of a clean run.
      return `${mark} ${f.total} ${f.total === 1 ? "source" : "sources"}: ${f.synced} synced, ${f.unchanged} up to date, ${f.skipped} skipped, ${f.failed} failed · exit ${f.exit_code}`;
    case "would fetch":
      return `· ${nameOf(f)}: would fetch (${f.reason})`;
    default: {
      const about = f.destination ?? f.source ?? f.state ?? f.queue ?? f.lock;
      const reason = f.reason === undefined ? "" : `: ${shortReason(f)}`;
      return `${mark} ${message}${about === undefined ? "" : ` (${nameOf(f)})`}${reason}`;
    }
  }
}

function nameOf(f: Record<string, unknown>): string {
  const destination = f.destination;
  if (typeof destination === "string" && destination !== "" && destination !== "-")
    return basename(destination);
  return String(f.source ?? f.state ?? f.queue ?? f.lock ?? "");
}

/** The reason without the source's URL in front (the line already names the file). */
function shortReason(f: Record<string, unknown>): string {
  const reason = String(f.reason ?? f.error_code ?? "");
  const source = typeof f.source === "string" ? f.source : "";
  return source && reason.startsWith(`${source}: `) ? reason.slice(source.length + 2) : reason;
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
