/**
 * A response body read off undici at once, into a buffer of our own.
 *
 * Why: undici 7 stops its parser when more than its body buffer (64 KiB) is waiting to be read,
 * and crashes the process — with an assertion nothing can catch — when a server that closes the
 * connection after each answer (HTTP/1.0, `Connection: close`: python's http.server) closes it on
 * the stopped parser (nodejs/undici#5360; fixed in undici 8 only, which needs Node 22). A small
 * file arrives whole before its part file is even made, so it hit this in most runs. Reading it
 * off at once keeps the parser going until we are `EAGER_BYTES` behind. A larger undici buffer
 * would do the same, but a connection cut mid-body throws away what undici holds; what we hold
 * is still delivered, before the error, so a resume starts after every byte that arrived.
 */
import { Readable } from "node:stream";

/** How far behind the network a body may fall before the source is paused. */
export const EAGER_BYTES = 1024 * 1024;

/**
 * Wraps `source`: its chunks are taken as they come and kept (up to `EAGER_BYTES` unread, then
 * it is paused); its end or error reaches the reader after every chunk it gave. Destroying the
 * wrapper destroys `source`.
 */
export function eagerBody(source: Readable): Readable {
  return new EagerBody(source);
}

class EagerBody extends Readable {
  readonly #source: Readable;
  #failure: Error | undefined;

  constructor(source: Readable) {
    super({ highWaterMark: EAGER_BYTES });
    this.#source = source;
    // A body may fail before anyone listens (an abort while it waits to be read, a hand-over
    // never taken): that must not be an unhandled 'error' that ends the process. Readers still
    // hear of it through their own listeners or `finished`.
    this.on("error", () => {});
    source.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) source.pause();
    });
    source.on("end", () => this.push(null));
    source.on("error", (error: Error) => {
      // Deliver what arrived first: the error follows once it has been read.
      if (this.readableLength === 0) this.destroy(error);
      else this.#failure = error;
    });
  }

  override _read(): void {
    this.#source.resume();
  }

  // The error waits for the last chunk to be taken: `read` is how every chunk leaves the buffer
  // (flowing or not), whereas `_read` is not called again once the source has stopped pushing.
  override read(size?: number): ReturnType<Readable["read"]> {
    const chunk = super.read(size);
    const failure = this.#failure;
    if (failure && this.readableLength === 0) {
      this.#failure = undefined;
      process.nextTick(() => this.destroy(failure));
    }
    return chunk;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#source.destroyed) {
      this.#source.on("error", () => {});
      this.#source.destroy();
    }
    callback(error);
  }
}
