/**
 * stdout and stderr whose reader may go away (`| head`, a log collector that died) or whose file
 * cannot take more (`> /dev/full`). A failed write is reported as an 'error' event on the
 * stream: unhandled, it ended the run with a stack trace in the middle of whatever it was doing
 * (curl and wget die of SIGPIPE on a closed pipe, a signal Node ignores). Here a stream that
 * failed once is closed for us: its writes are dropped from then on and the run goes on to its
 * end — the files are what the user asked for, the log lines only tell of them. A `--json`
 * document that could not be written whole is a failure of its own: `exitWhenFlushed` turns it
 * into exit 73 for a run that was otherwise a success.
 */
import { EXIT } from "../run/report.js";
import type { DocumentOutput } from "./json-document.js";

export class OutputStreams {
  readonly #closed = new Set<NodeJS.WritableStream>();
  /** Streams a document was begun on. */
  readonly #documents = new Set<NodeJS.WritableStream>();
  /** Waits for 'drain' to end when their stream closes instead. */
  readonly #waiting = new Map<NodeJS.WritableStream, Set<() => void>>();

  readonly #streams: readonly NodeJS.WritableStream[];

  constructor(streams: readonly NodeJS.WritableStream[]) {
    this.#streams = streams;
    for (const stream of streams) stream.on("error", () => this.#close(stream));
  }

  #close(stream: NodeJS.WritableStream): void {
    this.#closed.add(stream);
    const waiting = this.#waiting.get(stream);
    this.#waiting.delete(stream);
    for (const wake of waiting ?? []) wake();
  }

  /**
   * Exits with `code` once everything written to the streams has left the process (writes to a
   * pipe are asynchronous: `process.exit` at once would cut a large document short), or 73 in
   * place of 0 when a document was begun on a stream that failed — decided only then, since the
   * failure of a small document's one write comes after the run has returned its code.
   */
  exitWhenFlushed(code: number): void {
    let pending = this.#streams.length;
    const done = () => {
      pending -= 1;
      if (pending > 0) return;
      process.exit(this.#documentLost() && code === EXIT.ok ? EXIT.write : code);
    };
    for (const stream of this.#streams) this.#flush(stream, done);
  }

  /** Calls `done` once what was written to `stream` has been handed to the system, or failed. */
  #flush(stream: NodeJS.WritableStream, done: () => void): void {
    if (this.#closed.has(stream)) {
      done();
      return;
    }
    stream.write("", (error) => {
      if (error) this.#close(stream);
      done();
    });
  }

  /** Whether a document was begun on a stream that then failed: it was not written whole. */
  #documentLost(): boolean {
    for (const stream of this.#documents) if (this.#closed.has(stream)) return true;
    return false;
  }

  /** Writes lines to `stream` while it has a reader; drops them after. */
  lines(stream: NodeJS.WritableStream): (text: string) => void {
    return (text) => {
      if (!this.#closed.has(stream)) stream.write(text);
    };
  }

  /** `stream` as the `--json` document's output: a closed one takes everything and never blocks. */
  document(stream: NodeJS.WritableStream): DocumentOutput {
    this.#documents.add(stream);
    return {
      write: (text) => this.#closed.has(stream) || stream.write(text),
      once: (_event, listener) => {
        if (this.#closed.has(stream)) return queueMicrotask(listener);
        const wake = () => {
          stream.off("drain", wake);
          this.#waiting.get(stream)?.delete(wake);
          listener();
        };
        stream.once("drain", wake);
        let waiting = this.#waiting.get(stream);
        if (!waiting) {
          waiting = new Set();
          this.#waiting.set(stream, waiting);
        }
        waiting.add(wake);
      },
    };
  }
}
