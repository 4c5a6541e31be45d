/**
 * A real HTTP server on 127.0.0.1 for tests, scripted per request: each route serves a body with
 * ETag/Last-Modified/Range/304 support, and a script of faults consumed one per request (reset
 * mid-body, stall, short body, status codes, redirects, slow drip, hold until released). It
 * records every request and the body bytes it sent, and emits events tests can wait for.
 */
import { createHash } from "node:crypto";
import { EventEmitter, once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before } from "node:test";

export type Step =
  | { kind: "ok" }
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  | { kind: "reset"; afterBytes: number }
  | { kind: "stall"; afterBytes: number }
  | { kind: "short"; bytes: number }
  | { kind: "redirect"; location: string; status?: number }
  | { kind: "drip"; chunkBytes: number; intervalMs: number }
  | { kind: "hold"; afterBytes: number }
  /** Answers nothing, not even headers, until `release()`; then serves normally. */
  | { kind: "hold-answer" }
  /** Answers a Range request with only `bytes` of the range (a valid but partial 206). */
  | { kind: "partial-range"; bytes: number }
  /** Writes these bytes to the socket as the whole response, then closes it (hostile servers). */
  | { kind: "raw"; data: string | Buffer }
  /** The source changes now (body and ETag, as `change`), then this request is served normally. */
  | { kind: "change"; body: Buffer };

export interface Route {
  body: Buffer;
  etag?: string | false;
  lastModified?: string | false;
  /** Answer 200 with the whole body to every Range request. */
  ignoreRange?: boolean;
  /** Honour Range even when If-Range names another version (a broken server). */
  ignoreIfRange?: boolean;
  /** 206 answers carry no ETag or Last-Modified (a server or cache that drops them). */
  bareRanges?: boolean;
  /**
   * Backends behind a load balancer: request n is served by backend n mod length, which names the
   * same body with its own ETag (and judges If-Range by it).
   */
  backendEtags?: string[];
  /** Send no Content-Length (a chunked body of unknown size). */
  chunked?: boolean;
  /**
   * Range requests (once the script is used up): `416` answers each with 416; a number caps each
   * 206 to that many bytes, its Content-Range saying so (servers that limit their ranges).
   */
  ranges?: 416 | number;
  /** Headers of 206 answers only (a backend that labels its ranges differently). */
  rangeHeaders?: Record<string, string>;
  /**
   * 206 answers are chunked and misframed: the first chunk's size is the whole span, but it holds
   * all bytes but the last 5, then a `5` size line, then those 5 (a broken proxy's framing).
   */
  misframedRanges?: boolean;
  /** Faults, one consumed per request; when used up, requests are served normally. */
  script?: Step[];
  /** Serve every body (once the script is used up) in chunks this far apart, as a slow link would. */
  pace?: { chunkBytes: number; intervalMs: number };
  headers?: Record<string, string>;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage["headers"];
  status: number;
  step: Step["kind"];
  /** Body bytes written for this request (so far). */
  bytesSent: number;
}

export class TestServer extends EventEmitter {
  readonly requests: RecordedRequest[] = [];
  /** TCP connections accepted so far: tells whether clients reuse them (keep-alive). */
  connections = 0;
  readonly #routes = new Map<string, Route>();
  readonly #server: Server;
  readonly #held = new Set<() => void>();
  #port = 0;

  private constructor() {
    super();
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on("connection", () => {
      this.connections += 1;
    });
  }

  static async start(): Promise<TestServer> {
    const server = new TestServer();
    server.#server.listen(0, "127.0.0.1");
    await once(server.#server, "listening");
    server.#port = (server.#server.address() as AddressInfo).port;
    return server;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  url(path: string): string {
    return `${this.origin}${path}`;
  }

  /** Serves `body` at `path`, with a strong ETag derived from it unless told otherwise. */
  route(path: string, route: Route): this {
    this.#routes.set(path, route);
    return this;
  }

  /** Replaces the body (and by default its ETag): "the source changed". */
  change(path: string, body: Buffer): void {
    const route = this.#routes.get(path);
    if (!route) throw new Error(`no route ${path}`);
    route.body = body;
    if (route.etag !== false) route.etag = etagOf(body);
  }

  requestsFor(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  bytesSentFor(path: string): number {
    return this.requestsFor(path).reduce((sum, r) => sum + r.bytesSent, 0);
  }

  /** Resolves once `predicate` holds, checked on every request and body write. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate()) return;
    const signal = AbortSignal.timeout(timeoutMs);
    while (!predicate()) {
      await once(this, "progress", { signal });
    }
  }

  /** Lets every `hold` step finish its body. */
  release(): void {
    for (const resume of this.#held) resume();
    this.#held.clear();
  }

  async close(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, "close").catch(() => {});
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", this.origin).pathname;
    const route = this.#routes.get(path);
    const step: Step =
      route?.script?.shift() ?? (route?.pace ? { kind: "drip", ...route.pace } : { kind: "ok" });
    const record: RecordedRequest = {
      path,
      headers: req.headers,
      status: 0,
      step: step.kind,
      bytesSent: 0,
    };
    this.requests.push(record);
    const progress = (): void => {
      this.emit("progress");
    };
    if (!route) {
      record.status = 404;
      res.writeHead(404).end("not found");
      return progress();
    }
    if (step.kind === "hold-answer") {
      progress(); // the request has arrived
      await new Promise<void>((resume) => {
        this.#held.add(resume);
        res.once("close", resume);
      });
      if (res.destroyed) return;
    }
    if (step.kind === "status") {
      record.status = step.status;
      res.writeHead(step.status, step.headers).end(step.body ?? "");
      return progress();
    }
    if (step.kind === "raw") {
      record.status = -1;
      record.bytesSent = step.data.length;
      req.socket.end(step.data);
      return progress();
    }
    if (step.kind === "change") this.change(path, step.body);
    if (step.kind === "redirect") {
      record.status = step.status ?? 302;
      res.writeHead(record.status, { location: step.location }).end();
      return progress();
    }

    const backends = route.backendEtags;
    const etag = backends
      ? backends[(this.requestsFor(path).length - 1) % backends.length]
      : route.etag === undefined
        ? etagOf(route.body)
        : route.etag;
    const lastModified = route.lastModified || undefined;
    const validators: Record<string, string> = {
      ...(etag ? { etag } : {}),
      ...(lastModified ? { "last-modified": lastModified } : {}),
      ...route.headers,
    };
    if (notModified(req, etag, lastModified)) {
      record.status = 304;
      res.writeHead(304, validators).end();
      return progress();
    }
    let start = 0;
    // `bytes=N-` (a resume) and `bytes=N-M` (a segment).
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    const rangeApplies =
      range &&
      !route.ignoreRange &&
      (route.ignoreIfRange ||
        ifRange === undefined ||
        ifRange === etag ||
        ifRange === lastModified);
    let last = route.body.length - 1;
    if (rangeApplies) {
      start = Number(range[1]);
      if (range[2] !== "") last = Math.min(last, Number(range[2]));
      if (route.ranges !== undefined && route.ranges !== 416)
        last = Math.min(last, start + route.ranges - 1);
      if (start >= route.body.length || last < start || route.ranges === 416) {
        record.status = 416;
        res.writeHead(416, { "content-range": `bytes */${route.body.length}` }).end();
        return progress();
      }
    }
    const end =
      step.kind === "partial-range" && start > 0
        ? Math.min(last + 1, start + step.bytes)
        : last + 1;
    const slice = route.body.subarray(start, end);
    const partial = start > 0 || end < route.body.length;
    record.status = partial ? 206 : 200;
    if (partial && route.misframedRanges && slice.length > 5) {
      const head =
        `HTTP/1.1 206 Partial Content\r\nETag: ${etag}\r\nTransfer-Encoding: chunked\r\n` +
        `Content-Range: bytes ${start}-${end - 1}/${route.body.length}\r\nConnection: close\r\n\r\n`;
      req.socket.end(
        Buffer.concat([
          Buffer.from(`${head}${slice.length.toString(16)}\r\n`),
          slice.subarray(0, slice.length - 5),
          Buffer.from("\r\n5\r\n"),
          slice.subarray(slice.length - 5),
          Buffer.from("\r\n0\r\n\r\n"),
        ]),
      );
      return progress();
    }
    res.writeHead(record.status, {
      ...(partial && route.bareRanges ? {} : validators),
      ...(route.chunked ? {} : { "content-length": String(slice.length) }),
      // A server that ignores ranges does not say it honours them.
      ...(route.ignoreRange ? {} : { "accept-ranges": "bytes" }),
      ...(partial ? { "content-range": `bytes ${start}-${end - 1}/${route.body.length}` } : {}),
      ...(partial ? route.rangeHeaders : {}),
    });
    progress();
    if (req.method === "HEAD") {
      res.end();
      return;
    }

    const send = async (bytes: Buffer) => {
      if (bytes.length === 0) return;
      record.bytesSent += bytes.length;
      if (!res.write(bytes)) await drainOrClose(res);
      progress();
    };

    switch (step.kind) {
      case "ok":
      case "hold-answer":
      case "change":
      case "partial-range":
        await send(slice);
        res.end();
        return;
      case "reset":
        await send(slice.subarray(0, step.afterBytes));
        await settle(res);
        res.destroy();
        return progress();
      case "stall":
        await send(slice.subarray(0, step.afterBytes));
        return; // never ends; closed with the server
      case "short":
        await send(slice.subarray(0, step.bytes));
        await settle(res);
        res.destroy();
        return progress();
      case "hold":
        await send(slice.subarray(0, step.afterBytes));
        await new Promise<void>((resume) => {
          this.#held.add(resume);
          res.once("close", resume);
        });
        if (!res.destroyed) {
          await send(slice.subarray(step.afterBytes));
          res.end();
        }
        return;
      case "drip":
        for (let at = 0; at < slice.length && !res.destroyed; at += step.chunkBytes) {
          await send(slice.subarray(at, at + step.chunkBytes));
          await new Promise((resolve) => setTimeout(resolve, step.intervalMs));
        }
        res.end();
        return;
    }
  }
}

function notModified(
  req: IncomingMessage,
  etag: string | false | undefined,
  lastModified: string | undefined,
): boolean {
  const inm = req.headers["if-none-match"];
  if (inm !== undefined) return etag !== false && etag !== undefined && inm === etag;
  const ims = req.headers["if-modified-since"];
  return (
    ims !== undefined && lastModified !== undefined && Date.parse(ims) >= Date.parse(lastModified)
  );
}

/** Resolves when the response can take more data, or is gone; leaves no listener behind. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Waits until written data has left the process, so a reset really happens mid-body. */
async function settle(res: ServerResponse): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise(
    (resolve) => res.socket?.write("", () => resolve(undefined)) ?? resolve(undefined),
  );
}

export function etagOf(body: Buffer): string {
  return `"${createHash("sha256").update(body).digest("hex").slice(0, 16)}"`;
}

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes (so failures reproduce). */
export function bytes(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded [0, 1) random source, so that a failing randomised test can be replayed. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * The usual set-up of a test file: a TestServer started before its tests and closed after them.
 * The returned object stands for the started server.
 */
export function useTestServer(): TestServer {
  let started: TestServer | undefined;
  before(async () => {
    started = await TestServer.start();
  });
  after(() => started?.close());
  return new Proxy({} as TestServer, {
    get(_target, property) {
      if (!started) throw new Error("the test server starts in before()");
      const value = Reflect.get(started, property, started);
      return typeof value === "function" ? value.bind(started) : value;
    },
  });
}
