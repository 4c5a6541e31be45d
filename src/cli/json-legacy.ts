/**
 * `--json --json-format legacy`: the Python sibling's results, for scripts written against it —
 * a JSON list of `{source, destination, checksum, status}` with `status` `ok` (synced or already
 * up to date), `skipped` (busy elsewhere) or `failed` (then also `error`, the message). Written
 * as the run goes, like the full document; nothing is written for a run refused up front.
 */
import type { SourceResult } from "../core/result.js";
import type { Redactor } from "../log/redact.js";
import type { DocumentOutput } from "./json-document.js";

const LEGACY_STATUS: Record<SourceResult["status"], string> = {
  synced: "ok",
  unchanged: "ok",
  skipped: "skipped",
  failed: "failed",
};

export class LegacyJsonDocument {
  readonly #out: DocumentOutput;
  readonly #redactor: Redactor;
  #begun = false;
  #closed = false;

  constructor(out: DocumentOutput, redactor: Redactor) {
    this.#out = out;
    this.#redactor = redactor;
  }

  get begun(): boolean {
    return this.#begun;
  }

  add(result: SourceResult): Promise<void> | undefined {
    if (this.#closed) return undefined;
    const item = {
      source: result.source,
      destination: result.destination,
      checksum: result.checksum,
      status: LEGACY_STATUS[result.status],
      ...(result.error ? { error: result.error.message } : {}),
    };
    const text = `${this.#begun ? ",\n" : "[\n"}  ${JSON.stringify(item)}`;
    this.#begun = true;
    return this.#write(text);
  }

  /** Closes the list (the report's fields have no place in this shape). */
  finish(_report?: unknown): void {
    this.abort();
  }

  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    void this.#write(this.#begun ? "\n]\n" : "[]\n");
    this.#begun = true;
  }

  #write(text: string): Promise<void> | undefined {
    if (this.#out.write(this.#redactor.scrubJson(text))) return undefined;
    return new Promise((resolve) => this.#out.once("drain", resolve));
  }
}
