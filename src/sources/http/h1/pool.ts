/**
 * The connections to one origin: at most `connections` open at once, idle ones kept for the next
 * request (the most recently used first) until `idleMs` or the server's own `Keep-Alive:
 * timeout` (less a second) has passed, and requests beyond the limit queued in order.
 */
import type { H1Connection } from "./connection.js";

export interface OriginPoolOptions {
  connections: number;
  idleMs: number;
  open(signal: AbortSignal): Promise<H1Connection>;
}

interface Waiter {
  resolve: (connection: H1Connection) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal;
  onAbort: () => void;
}

export class OriginPool {
  readonly #options: OriginPoolOptions;
  readonly #idle: H1Connection[] = [];
  /**
   * Each connection's idle timer, made once and moved with `refresh()` while the time it waits
   * stays the same: new timers per request, here and in the connections, made 10,000 conditional
   * GETs ~12 % slower. A timer firing for a connection that is busy again does nothing.
   */
  readonly #idleTimers = new Map<H1Connection, { timer: NodeJS.Timeout; ms: number }>();
  readonly #waiting: Waiter[] = [];
  readonly #all = new Set<H1Connection>();
  /** Connections open or being opened. */
  #open = 0;
  #opened = 0;
  #closed = false;

  constructor(options: OriginPoolOptions) {
    this.#options = options;
  }

  get openConnections(): number {
    return this.#open;
  }

  /**
   * Connections opened so far, ever: how a test against a real server (which counts nothing for
   * us) tells a reused connection from a new one.
   */
  get openedConnections(): number {
    return this.#opened;
  }

  get idleConnections(): number {
    return this.#idle.length;
  }

  /** A connection free for one request: an idle one, a new one, or the next to free up. */
  acquire(signal: AbortSignal): Promise<H1Connection> {
    signal.throwIfAborted();
    if (this.#closed) return Promise.reject(new Error("the HTTP client is closed"));
    for (let connection = this.#idle.pop(); connection; connection = this.#idle.pop()) {
      if (!connection.closed) return Promise.resolve(connection);
    }
    if (this.#open < this.#options.connections) return this.#connect(signal);
    return new Promise<H1Connection>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          reject(signal.reason);
        },
      };
      signal.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** Destroys every connection, idle or busy; requests waiting fail. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.reject(new Error("the HTTP client is closed"));
    }
    this.#idle.length = 0;
    for (const connection of [...this.#all]) connection.close();
  }

  async #connect(signal: AbortSignal): Promise<H1Connection> {
    this.#open += 1;
    let connection: H1Connection;
    try {
      connection = await this.#options.open(signal);
    } catch (error) {
      this.#open -= 1;
      this.#serveWaiting();
      throw error;
    }
    this.#opened += 1;
    connection.onFree = (free) => this.#free(free);
    connection.onClose = (closed) => this.#gone(closed);
    this.#all.add(connection);
    if (this.#closed) connection.close();
    return connection;
  }

  /** A connection whose response is complete: to the first request waiting, or kept idle. */
  #free(connection: H1Connection): void {
    const waiter = this.#waiting.shift();
    if (waiter) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(connection);
      return;
    }
    if (this.#closed) {
      connection.close();
      return;
    }
    const hint = connection.keepAliveMs;
    const idleMs = Math.min(this.#options.idleMs, hint === undefined ? Infinity : hint - 1000);
    const kept = this.#idleTimers.get(connection);
    if (kept && kept.ms === idleMs) {
      kept.timer.refresh();
    } else {
      if (kept) clearTimeout(kept.timer);
      const timer = setTimeout(() => {
        if (this.#idle.includes(connection)) connection.close();
      }, idleMs);
      timer.unref();
      this.#idleTimers.set(connection, { timer, ms: idleMs });
    }
    this.#idle.push(connection);
  }

  /** The connection is gone: its idle timer goes too. */
  #forget(connection: H1Connection): void {
    clearTimeout(this.#idleTimers.get(connection)?.timer);
    this.#idleTimers.delete(connection);
  }

  #gone(connection: H1Connection): void {
    this.#open -= 1;
    this.#all.delete(connection);
    this.#forget(connection);
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    this.#serveWaiting();
  }

  /** A connection slot freed up: the first request waiting opens its own. */
  #serveWaiting(): void {
    if (this.#closed || this.#open >= this.#options.connections) return;
    const waiter = this.#waiting.shift();
    if (!waiter) return;
    waiter.signal.removeEventListener("abort", waiter.onAbort);
    this.#connect(waiter.signal).then(waiter.resolve, waiter.reject);
  }
}
