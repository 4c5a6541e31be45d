/**
 * The `--json` results document written as the run goes: its head and each result as they come
 * (in plan order, from `sync`'s `onResult`), then the closing fields once the run ends — so that
 * a run of any size keeps only counts, never the document. The keys come in this order:
 * `schema_version`, `run_id`, `version`, `started_at`, `results`, `finished_at`, `duration_ms`, `exit_code`,
 * `summary` (a JSON object's key order carries no meaning; the schema is the same).
 *
 * Nothing is written before the first result or the close: a run refused up front (bad input,
 * exit 64) writes no document. Once begun, the document is always closed whole — also for an
 * interrupted run (`exit_code` 130 or 143, the results that finished, and their summary). Every
 * piece passes through the redactor, as the whole document used to.
 */
import type { SourceResult } from "../core/result.js";
import type { Redactor } from "../log/redact.js";
import { type Report, SCHEMA_VERSION, type Summary, Tally } from "../run/report.js";

/** Where the document goes; `write` returns false when the caller should wait for `drain`. */
export interface DocumentOutput {
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/** Text gathered before a write: fewer, larger writes than one per result. */
const BATCH_CHARS = 64 * 1024;

export class JsonDocument {
  readonly #out: DocumentOutput;
  readonly #redactor: Redactor;
  readonly #head: {
    schema_version: number;
    run_id: string;
    version: string;
    started_at: string;
  };
  readonly #started = performance.now();
  readonly #tally = new Tally();
  #begun = false;
  #closed = false;
  #count = 0;
  #batch = "";

  constructor(
    out: DocumentOutput,
    redactor: Redactor,
    head: { runId: string; version: string; startedAt: Date },
  ) {
    this.#out = out;
    this.#redactor = redactor;
    this.#head = {
      schema_version: SCHEMA_VERSION,
      run_id: head.runId,
      version: head.version,
      started_at: head.startedAt.toISOString(),
    };
  }

  /** Whether anything has been written (then `close` must be called for a valid document). */
  get begun(): boolean {
    return this.#begun;
  }

  /** Adds one result; resolves when the output can take more (back-pressure from a slow reader). */
  add(result: SourceResult): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#begin();
    this.#tally.add(result);
    const item = JSON.stringify(result, null, 2).replaceAll("\n", "\n    ");
    this.#batch += `${this.#count === 0 ? "\n" : ",\n"}    ${item}`;
    this.#count += 1;
    if (this.#batch.length < BATCH_CHARS) return undefined;
    return this.#flush();
  }

  /** Closes the document with a finished run's report (its `results` are not read). */
  finish(report: Report): void {
    this.#close({
      finished_at: report.finished_at,
      duration_ms: report.duration_ms,
      exit_code: report.exit_code,
      summary: report.summary,
    });
  }

  /**
   * Closes the document of a run that ended without a report (interrupted, or an internal
   * error): the results written so far, their summary, and `exitCode`.
   */
  abort(exitCode: number): void {
    this.#close({
      finished_at: new Date().toISOString(),
      duration_ms: Math.round(performance.now() - this.#started),
      exit_code: exitCode,
      summary: this.#tally.summary(),
    });
  }

  #begin(): void {
    if (this.#begun) return;
    this.#begun = true;
    const head = JSON.stringify(this.#head, null, 2);
    this.#batch = `${head.slice(0, -2)},\n  "results": [`;
  }

  #close(tail: {
    finished_at: string;
    duration_ms: number;
    exit_code: number;
    summary: Summary;
  }): void {
    if (this.#closed) return;
    this.#begin();
    this.#closed = true;
    const fields = JSON.stringify(tail, null, 2).slice(1);
    this.#batch += `${this.#count === 0 ? "" : "\n  "}],${fields}\n`;
    void this.#flush();
  }

  #flush(): Promise<void> | undefined {
    const text = this.#redactor.scrubJson(this.#batch);
    this.#batch = "";
    if (this.#out.write(text)) return undefined;
    return new Promise((resolve) => this.#out.once("drain", resolve));
  }
}
