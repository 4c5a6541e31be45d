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

/** The whole second `isoTimestampMicros` last formatted, and its text up to the dot. */
let cachedSecond = Number.NaN;
let cachedSecondText = "";

/**
 * UTC ISO 8601 with microseconds: `2026-11-29T06:15:04.123456Z`. The date and time of day are
 * formatted once a second: `Date#toISOString` cost a batch run 5 µs a line, two lines a file.
 */
export function isoTimestampMicros(epochMs: number): string {
  const wholeMs = Math.floor(epochMs);
  const second = Math.floor(wholeMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedSecondText = new Date(second * 1000).toISOString().slice(0, -4); // …ss.
  }
  const millis = wholeMs - second * 1000;
  const micros = Math.min(999, Math.floor((epochMs - wholeMs) * 1000));
  return `${cachedSecondText}${String(millis).padStart(3, "0")}${String(micros).padStart(3, "0")}Z`;
}

/** The keys every line begins with, in this order (README, "Logs"); an event's own never override them. */
const FIXED_KEYS = ["ts", "level", "message", "script", "run_id", "pid", "version"];

/**
 * The formatter of one run's lines: the fixed keys in the documented order, then the event's own
 * fields (`undefined` ones left out). The run's constant keys are serialized once, not per line.
 */
export function lineFormatter(context: {
  runId: string;
  version: string;
  pid: number;
  script?: string;
}): (event: { level: Level; message: string; fields: object }, timestamp: string) => string {
  const constants = {
    script: context.script ?? "resilient-sync",
    run_id: context.runId,
    pid: context.pid,
    version: context.version,
  };
  const constantText = JSON.stringify(constants).slice(1, -1);
  return (event, timestamp) => {
    // The timestamp and the level are plain ASCII: no escaping to do.
    const head = `{"ts":"${timestamp}","level":"${event.level}","message":${JSON.stringify(event.message)},${constantText}`;
    for (const key of FIXED_KEYS) {
      if (key in event.fields) return withOwnFieldsAfter(head, event.fields);
    }
    const own = JSON.stringify(event.fields);
    return own.length > 2 ? `${head},${own.slice(1)}` : `${head}}`;
  };
}

/** The rare line whose event names a fixed key: that field is left out. */
function withOwnFieldsAfter(head: string, fields: object): string {
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (!FIXED_KEYS.includes(key)) own[key] = value;
  }
  const text = JSON.stringify(own);
  return text.length > 2 ? `${head},${text.slice(1)}` : `${head}}`;
}

/** The JSON-lines subscriber: filters by level, formats, scrubs secrets, writes. */
export function createJsonLogger(options: JsonLoggerOptions): Logger {
  const threshold = LEVELS.indexOf(options.minLevel);
  const now = options.now ?? preciseNow;
  const format = lineFormatter(options);
  return {
    emit<M extends Message>(level: Level, message: M, fields: EventFields[M]): void {
      if (LEVELS.indexOf(level) < threshold) return;
      const line = format({ level, message, fields }, isoTimestampMicros(now()));
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
