/**
 * The HTTP/1.1 client of the download path: GET and HEAD to http and https origins, directly (no
 * proxy), one pool of connections per origin, every pool reading into one shared set of slots.
 * A request that meets a reused connection closed by the server before any byte of its answer
 * (the server's keep-alive ended as the request left) is sent again on another connection: GET
 * and HEAD are idempotent, and nothing of the answer was seen.
 */
import { SlotPool } from "./buffers.js";
import { type ConnectionSettings, openConnection, type Target } from "./connect.js";
import { H1Error } from "./errors.js";
import { OriginPool } from "./pool.js";
import { requestHead } from "./request.js";
import type { H1Response } from "./response.js";

export type { H1Response } from "./response.js";

export interface H1AgentOptions {
  /** Connect, response-head and body-stall timeout. */
  timeoutMs: number;
  tls?: ConnectionSettings["tls"];
  /** Connections per origin at most (default 16). */
  connections?: number;
  /** How long an idle connection is kept (default 10 s; less when the server says so). */
  idleMs?: number;
  /** The largest response head accepted (default 16 KiB, as undici and Node's http). */
  maxHeaderBytes?: number;
  /** Free slots kept for reuse (default: all of them; see buffers.ts for why). */
  keepSlots?: number;
}

export class H1Agent {
  readonly #pools = new Map<string, OriginPool>();
  readonly #settings: ConnectionSettings;
  readonly #connections: number;
  readonly #idleMs: number;
  readonly slots: SlotPool;

  constructor(options: H1AgentOptions) {
    this.slots = new SlotPool(options.keepSlots);
    this.#settings = {
      timeoutMs: options.timeoutMs,
      tls: options.tls ?? { rejectUnauthorized: true },
      maxHeaderBytes: options.maxHeaderBytes ?? 16 * 1024,
      slots: this.slots,
    };
    this.#connections = options.connections ?? 16;
    this.#idleMs = options.idleMs ?? 10_000;
  }

  /** One request; resolves with the response head and its unread body. */
  async request(
    url: URL,
    init: { method: "GET" | "HEAD"; headers: Record<string, string>; signal: AbortSignal },
  ): Promise<H1Response> {
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new H1Error("H1_INVALID_ARG", `not an http(s) URL: ${url.protocol}`);
    const text = requestHead(init.method, url, init.headers);
    const pool = this.#poolFor(url);
    for (let attempt = 0; ; attempt += 1) {
      const connection = await pool.acquire(init.signal);
      try {
        return await connection.request(text, init.method === "HEAD", init.signal);
      } catch (error) {
        if (!connection.staleFailure || attempt >= this.#connections || init.signal.aborted)
          throw error;
      }
    }
  }

  /** Closes every connection (idle or not); later requests fail. */
  async close(): Promise<void> {
    for (const pool of this.#pools.values()) pool.close();
  }

  /** The pool of `url`'s origin (tests look at it). */
  poolOf(url: URL): OriginPool | undefined {
    return this.#pools.get(url.origin);
  }

  #poolFor(url: URL): OriginPool {
    let pool = this.#pools.get(url.origin);
    if (!pool) {
      const target: Target = {
        https: url.protocol === "https:",
        // An IPv6 literal comes in brackets, which connect() does not take.
        host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
      };
      pool = new OriginPool({
        connections: this.#connections,
        idleMs: this.#idleMs,
        open: (signal) => openConnection(target, this.#settings, signal),
      });
      this.#pools.set(url.origin, pool);
    }
    return pool;
  }
}
