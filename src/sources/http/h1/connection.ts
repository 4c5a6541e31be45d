/**
 * One HTTP/1.1 connection (TCP, or TLS with ALPN http/1.1 only), carrying one request at a time.
 * It reads with `onread` into the client's slots (buffers.ts): nothing is allocated per read and
 * no stream sits between the socket and the parser. It reads only while the body being received
 * wants data, so a consumer that falls behind stops the socket and TCP's window does the rest.
 * Opened by connect.ts (which owns the connect timeout). Timeouts here: response head (from the
 * request written), body stall (no byte while reading; time the body is held paused is not
 * counted). A connection is offered for another request only once its response was complete to
 * the last byte, nothing followed it, and the server allows reuse.
 */
import type { Socket } from "node:net";
import { unwatchAbort, watchAbort } from "./abort-watch.js";
import { H1Body } from "./body.js";
import type { ReadCursor, Slot } from "./buffers.js";
import type { ConnectionSettings } from "./connect.js";
import { H1Error, type H1ErrorCode } from "./errors.js";
import type { ResponseHead } from "./head.js";
import { ResponseParser } from "./parser.js";
import { BodilessResponse, type H1Response } from "./response.js";

interface Exchange {
  parser: ResponseParser;
  head: ResponseHead | undefined;
  body: H1Body | undefined;
  complete: boolean;
  resolve: (response: H1Response) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
}

export class H1Connection {
  readonly #socket: Socket;
  readonly #cursor: ReadCursor;
  readonly #settings: ConnectionSettings;
  #exchange: Exchange | undefined;
  /**
   * The deadline of the exchange under way: one timer for the connection's whole life, moved with
   * `refresh()` (without the timers a copy of the client did 10,000 conditional GETs ~12 % faster).
   * Disarmed, it is left to fire into nothing.
   */
  #timer: NodeJS.Timeout | undefined;
  /** What the timer's firing means now; `undefined`: disarmed. */
  #deadline: H1ErrorCode | undefined;
  readonly #onAbort = (reason: unknown) => this.destroy(reason);
  #paused = false;
  #closed = false;
  #ended = false;
  /** The slot the read being parsed landed in (body chunks are views into it). */
  #slot: Slot | undefined;
  /** Responses received whole on it. */
  served = 0;
  /**
   * The last request failed before any byte of its response, on a connection used before, and not
   * by its own deadline: the server may have closed it as the request left (the agent retries).
   */
  staleFailure = false;
  /** How long the server keeps it open when idle (its `Keep-Alive: timeout`), if it said so. */
  keepAliveMs: number | undefined;
  /** A response is complete and the connection may carry another request. */
  onFree: (connection: H1Connection) => void = () => this.close();
  /** The connection closed (for good). */
  onClose: (connection: H1Connection) => void = () => {};

  constructor(socket: Socket, cursor: ReadCursor, settings: ConnectionSettings) {
    this.#socket = socket;
    this.#cursor = cursor;
    this.#settings = settings;
    socket.on("error", (error) => this.destroy(error));
    socket.on("end", () => this.#onEnd());
    socket.on("close", () =>
      this.destroy(new H1Error("H1_SOCKET", "the connection closed", { beforeResponse: true })),
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request (its head, serialized) and resolves with the response head and its body. */
  request(text: string, headRequest: boolean, signal: AbortSignal): Promise<H1Response> {
    if (this.#closed || this.#exchange) throw new Error("the connection is not free");
    this.staleFailure = false;
    return new Promise<H1Response>((resolve, reject) => {
      const exchange: Exchange = {
        parser: new ResponseParser(
          {
            head: (head) => this.#onHead(exchange, head),
            body: (chunk) => exchange.body?.deliver(chunk, this.#slot as Slot),
            complete: () => {
              exchange.complete = true;
            },
          },
          { headRequest, maxHeaderBytes: this.#settings.maxHeaderBytes },
        ),
        head: undefined,
        body: undefined,
        complete: false,
        resolve,
        reject,
        signal,
      };
      this.#exchange = exchange;
      this.#cursor.busy();
      if (signal.aborted) return this.destroy(signal.reason);
      watchAbort(signal, this.#onAbort);
      this.#socket.ref();
      this.#arm("H1_HEADERS_TIMEOUT");
      this.#socket.write(text);
      this.#flow();
    });
  }

  /** Closes it for good (an idle connection no longer wanted, the client closing). */
  close(): void {
    this.destroy(new H1Error("H1_SOCKET", "the connection was closed"));
  }

  /** Closes it; a request or body under way fails with `error`. */
  destroy(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#disarm();
    clearTimeout(this.#timer);
    const exchange = this.#exchange;
    this.#exchange = undefined;
    this.#socket.destroy();
    this.#cursor.close();
    if (exchange) {
      exchange.parser.stop();
      unwatchAbort(exchange.signal, this.#onAbort);
      if (exchange.body) {
        exchange.body.fail(asError(error));
      } else {
        // A reused connection that ends before any byte of the answer may have been closed by the
        // server as the request left: the request may go again. Not when our own deadline ended
        // it: a second try would double the wait the user set. (A connection dropped silently on
        // the way, by a NAT, ends this way too: the transfer's own retry takes it from there.)
        this.staleFailure =
          this.served > 0 &&
          exchange.parser.untouched &&
          !(error instanceof H1Error && error.code === "H1_HEADERS_TIMEOUT");
        exchange.reject(error);
      }
    }
    this.onClose(this);
  }

  /** `bytes` were read into `landed.view`, a piece of `landed.slot` (none: read while idle). */
  onRead(bytes: number, landed: { slot: Slot; view: Buffer } | undefined): void {
    const exchange = this.#exchange;
    if (!exchange || !landed) {
      // Bytes nobody asked for: whatever they are, this connection is done with.
      this.close();
      return;
    }
    if (exchange.body && this.#deadline) this.#timer?.refresh();
    this.#slot = landed.slot;
    let used: number;
    try {
      used = exchange.parser.execute(landed.view, 0, bytes);
    } catch (error) {
      this.destroy(error);
      return;
    }
    if (exchange.complete && this.#exchange === exchange) this.#finish(exchange, used < bytes);
    else this.#flow();
  }

  #onHead(exchange: Exchange, head: ResponseHead): void {
    exchange.head = head;
    const hint = head.headers["keep-alive"];
    const keepAlive =
      hint === undefined ? null : /(?:^|[,\s])timeout\s*=\s*(\d+)/i.exec(String(hint));
    this.keepAliveMs = keepAlive ? Number(keepAlive[1]) * 1000 : undefined;
    if (head.framing === "none") {
      // Complete with its head: the parser says so next, and the connection is freed.
      exchange.resolve(new BodilessResponse(head));
      return;
    }
    const body = new H1Body({
      flow: () => {
        if (this.#exchange?.body === body) this.#flow();
      },
      abandon: () => {
        if (this.#exchange?.body === body) this.close();
      },
    });
    exchange.body = body;
    this.#arm("H1_BODY_TIMEOUT");
    exchange.resolve({
      statusCode: head.status,
      statusText: head.statusText,
      headers: head.headers,
      body,
    });
  }

  /** The response is complete: the body is told, and the connection offered again or closed. */
  #finish(exchange: Exchange, surplus: boolean): void {
    this.#disarm();
    this.#exchange = undefined;
    unwatchAbort(exchange.signal, this.#onAbort);
    this.served += 1;
    const reusable =
      exchange.head?.reusable === true &&
      !surplus &&
      !this.#ended &&
      !this.#closed &&
      (this.keepAliveMs === undefined || this.keepAliveMs > 1000);
    exchange.body?.finish();
    if (!reusable) {
      this.close();
      return;
    }
    this.#socket.unref();
    // Idle, it holds no slot: many idle connections, one per origin of a long list, would
    // otherwise hold 256 KiB each.
    this.#cursor.idle();
    this.#flow(); // read on while idle: a close by the server is noticed at once
    if (!REDIRECTS.has(exchange.head?.status ?? 0)) {
      this.onFree(this);
      return;
    }
    // A redirect's connection is asked again at once, by the hop. A sloppy server may have sent
    // more than it framed (an HTML page after `Content-Length: 0`): offered only after the event
    // loop has polled it once, bytes nobody asked for close it instead of being read as the
    // next answer. Two turns: the first check phase may come before the next poll.
    setImmediate(() =>
      setImmediate(() => {
        if (!this.#closed) this.onFree(this);
      }),
    );
  }

  #onEnd(): void {
    this.#ended = true;
    const exchange = this.#exchange;
    if (!exchange) {
      this.close();
      return;
    }
    try {
      exchange.parser.eof();
    } catch (error) {
      this.destroy(error);
      return;
    }
    if (exchange.complete) this.#finish(exchange, false);
    else this.close();
  }

  /** Reads while the body being received wants data (or while waiting for a head, or idle). */
  #flow(): void {
    if (this.#closed) return;
    const body = this.#exchange?.body;
    const want = body ? body.wantsData : true;
    if (want && this.#paused) {
      this.#paused = false;
      this.#socket.resume();
      if (body) this.#arm("H1_BODY_TIMEOUT");
    } else if (!want && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
      if (body) this.#disarm();
    }
  }

  #arm(code: H1ErrorCode): void {
    this.#deadline = code;
    if (this.#timer) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => this.#expire(), this.#settings.timeoutMs);
    this.#timer.unref();
  }

  #disarm(): void {
    this.#deadline = undefined;
  }

  #expire(): void {
    const code = this.#deadline;
    if (code === undefined || this.#closed) return;
    const seconds = this.#settings.timeoutMs / 1000;
    const what =
      code === "H1_HEADERS_TIMEOUT"
        ? `no response headers within ${seconds} s`
        : `no body byte for ${seconds} s`;
    this.destroy(new H1Error(code, what));
  }
}

/** The answers a hop follows at once on the same origin (not 304: a no-op's, reused at once). */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
