/**
 * Results handed on in the plan's order as they come in out of order: a result waits here only
 * until every pair planned before it has one. With one origin (or proven ones) that is at most
 * the transfers in flight; pairs held back by a suspect origin hold back the results after them
 * until they finish (a plan-ordered document cannot do otherwise).
 */
import type { SourceResult } from "../core/result.js";

/** Takes each result once, in plan order; a promise it returns holds the run until it settles. */
export type ResultSink = (result: SourceResult, index: number) => void | Promise<void>;

export class ResultOrder {
  readonly #sink: ResultSink;
  readonly #waiting = new Map<number, SourceResult>();
  #next = 0;
  /** Set while `#flush` runs; cleared in the same step that finds nothing more to hand on. */
  #running = false;
  #flushing: Promise<void> = Promise.resolve();

  constructor(sink: ResultSink) {
    this.#sink = sink;
  }

  /**
   * Takes the result of pair `index`; resolves once it and every result it released have been
   * taken by the sink (so a slow sink slows the workers down rather than filling memory).
   */
  put(index: number, result: SourceResult): Promise<void> {
    this.#waiting.set(index, result);
    if (!this.#running) {
      this.#running = true;
      this.#flushing = this.#flush();
    }
    return this.#flushing;
  }

  /**
   * Hands on what is still waiting, in plan order, skipping pairs that never got a result (a run
   * interrupted in the middle). Call once no more results will come.
   */
  async drain(): Promise<void> {
    await this.#flushing.catch(() => {});
    const left = [...this.#waiting.keys()].sort((a, b) => a - b);
    for (const index of left) {
      const result = this.#waiting.get(index) as SourceResult;
      this.#waiting.delete(index);
      await this.#sink(result, index);
    }
  }

  async #flush(): Promise<void> {
    try {
      for (;;) {
        const result = this.#waiting.get(this.#next);
        if (result === undefined) return;
        this.#waiting.delete(this.#next);
        const index = this.#next;
        this.#next += 1;
        await this.#sink(result, index);
      }
    } finally {
      this.#running = false;
    }
  }
}
