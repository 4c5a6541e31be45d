import {
  type EventFields,
  LEVELS,
  type Level,
  type Logger,
  type Message,
  takes,
} from "./events.js";
import type { Redactor } from "./redact.js";

/** Where lines go: `debug`/`info` to `out`, `warning`/`error` to `err` (README, "Logs"). */
export interface LineSinks {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface JsonLoggerOptions {
  runId: string;
  version: string;
  pid: number;
  minLevel: Level;
  sinks: LineSinks;
  /**
   * Where warnings and errors go when `sinks` may hold lines back (line-writer.ts): sinks that
   * write at once. Default: `sinks`.
   */
  urgentSinks?: LineSinks;
  /** With `--json`, stdout carries the results document, so every log line goes to `err`. */
  allToErr: boolean;
  redactor: Redactor;
  /** The `script` field of every line (`--script-name`). Default `resilient-sync`. */
  script?: string;
  /** Epoch milliseconds with sub-millisecond precision. */
  now?: () => number;
}

const preciseNow = (): number => performance.timeOrigin + performance.now();

/** UTC ISO 8601 with microseconds: `2026-11-29T06:15:04.123456Z`. */
export function isoTimestampMicros(epochMs: number): string {
  const wholeMs = Math.floor(epochMs);
  const micros = Math.min(999, Math.floor((epochMs - wholeMs) * 1000));
  const iso = new Date(wholeMs).toISOString(); // …ss.mmmZ
  return `${iso.slice(0, -1)}${String(micros).padStart(3, "0")}Z`;
}

/** One log line: the fixed keys in the documented order, then the event's own fields. */
export function formatLine(
  event: { level: Level; message: string; fields: object },
  context: { runId: string; version: string; pid: number; timestamp: string; script?: string },
): string {
  const record: Record<string, unknown> = {
    ts: context.timestamp,
    level: event.level,
    message: event.message,
    script: context.script ?? "resilient-sync",
    run_id: context.runId,
    pid: context.pid,
    version: context.version,
  };
  for (const [key, value] of Object.entries(event.fields)) {
    if (value !== undefined && !(key in record)) record[key] = value;
  }
  return JSON.stringify(record);
}

/** The JSON-lines subscriber: filters by level, formats, scrubs secrets, writes. */
export function createJsonLogger(options: JsonLoggerOptions): Logger {
  const threshold = LEVELS.indexOf(options.minLevel);
  const now = options.now ?? preciseNow;
  return {
    emit<M extends Message>(level: Level, message: M, fields: EventFields[M]): void {
      if (LEVELS.indexOf(level) < threshold) return;
      const line = formatLine(
        { level, message, fields },
        {
          runId: options.runId,
          version: options.version,
          pid: options.pid,
          ...(options.script === undefined ? {} : { script: options.script }),
          timestamp: isoTimestampMicros(now()),
        },
      );
      const scrubbed = options.redactor.scrubJson(line);
      const severe = level === "warning" || level === "error";
      const sinks = severe ? (options.urgentSinks ?? options.sinks) : options.sinks;
      (options.allToErr || severe ? sinks.err : sinks.out)(`${scrubbed}\n`);
    },
    enabled: (level) => LEVELS.indexOf(level) >= threshold,
  };
}

/** Sends every event to each of the loggers, in order. */
export function fanOut(...loggers: Logger[]): Logger {
  return {
    emit(level, message, fields) {
      for (const logger of loggers) logger.emit(level, message, fields);
    },
    enabled: (level) => loggers.some((logger) => takes(logger, level)),
  };
}
