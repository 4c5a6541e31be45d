/**
 * stdout and stderr whose reader may go away (`| head`, a log collector that died). A write to a
 * closed pipe fails with EPIPE, which Node reports as an 'error' event on the stream: unhandled,
 * it ended the run with a stack trace in the middle of whatever it was doing (curl and wget die
 * of SIGPIPE there, a signal Node ignores). Here a closed stream's writes are dropped from then
 * on and the run goes on to its end: the files are what the user asked for, the log lines only
 * tell of them. A `--json` document that could not be written whole is a failure of its own
 * (exit 73 for a run that was otherwise a success, decided in main.ts).
 */
import type { DocumentOutput } from "./json-document.js";

/** Errors that mean the reader has gone: the stream will take nothing more. */
const GONE = new Set(["EPIPE", "ERR_STREAM_DESTROYED", "ECONNRESET"]);

export class OutputStreams {
  readonly #closed = new Set<NodeJS.WritableStream>();
  /** Waits for 'drain' to end when their stream closes instead. */
  readonly #waiting = new Map<NodeJS.WritableStream, Set<() => void>>();

  constructor(streams: readonly NodeJS.WritableStream[]) {
    for (const stream of streams) {
      stream.on("error", (error: NodeJS.ErrnoException) => {
        if (!GONE.has(error.code ?? "")) throw error;
        this.#closed.add(stream);
        const waiting = this.#waiting.get(stream);
        this.#waiting.delete(stream);
        for (const wake of waiting ?? []) wake();
      });
    }
  }

  /** Whether `stream`'s reader has gone. */
  isClosed(stream: NodeJS.WritableStream): boolean {
    return this.#closed.has(stream);
  }

  /** Writes lines to `stream` while it has a reader; drops them after. */
  lines(stream: NodeJS.WritableStream): (text: string) => void {
    return (text) => {
      if (!this.#closed.has(stream)) stream.write(text);
    };
  }

  /** `stream` as the `--json` document's output: a closed one takes everything and never blocks. */
  document(stream: NodeJS.WritableStream): DocumentOutput {
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
