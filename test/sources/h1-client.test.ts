/**
 * The HTTP/1.1 client (src/sources/http/h1/) against real sockets: keep-alive and when a
 * connection is not reused, HEAD, 304, ranges, redirects (through HttpClient), cuts, stalls,
 * timeouts, aborts, backpressure, framing faults over TCP in random segments, and how its
 * errors are classified (as undici's were).
 */
import assert from "node:assert/strict";
import { getEventListeners, once } from "node:events";
import { createServer as createNetServer, type Socket } from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { SyncError } from "../../src/errors.js";
import { HttpClient } from "../../src/sources/http/client.js";
import { describeHttpError } from "../../src/sources/http/errors.js";
import { H1Agent, type H1Response } from "../../src/sources/http/h1/agent.js";
import type { H1Body } from "../../src/sources/http/h1/body.js";
import { H1Error } from "../../src/sources/http/h1/errors.js";
import { invalidResponses, sliced, sliceSizes, validResponses } from "../helpers/h1-responses.js";
import { freePort } from "../helpers/proxy.js";
import { rawServer, writeSlices } from "../helpers/raw-server.js";
import { bytes, etagOf, useTestServer } from "../helpers/server.js";

const server = useTestServer();
const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

const never = () => new AbortController().signal;

function agentFor(t: import("node:test").TestContext, timeoutMs = 5000): H1Agent {
  const agent = new H1Agent({ timeoutMs });
  t.after(() => agent.close());
  return agent;
}

function get(agent: H1Agent, url: string, headers: Record<string, string> = {}, signal = never()) {
  return agent.request(new URL(url), { method: "GET", headers, signal });
}

/** Reads a lent body: copies of its chunks (each released at once), then its end or error. */
function lendAll(body: H1Body): Promise<{ data: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  return new Promise((resolve) => {
    body.lend({
      chunk(chunk, release) {
        chunks.push(Buffer.from(chunk));
        release();
      },
      end: () => resolve({ data: Buffer.concat(chunks), error: undefined }),
      error: (error) => resolve({ data: Buffer.concat(chunks), error }),
    });
  });
}

/** Reads a body as a stream, to its end or error. */
async function streamAll(body: H1Body): Promise<{ data: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return { data: Buffer.concat(chunks), error: undefined };
  } catch (error) {
    return { data: Buffer.concat(chunks), error };
  }
}

const readAll = (response: H1Response, how: "lend" | "stream") =>
  how === "lend" ? lendAll(response.body) : streamAll(response.body);

describe("h1 client: connections", () => {
  test("keep-alive: one connection carries requests whose bodies were read whole (lent, streamed, dumped)", async (t) => {
    const agent = agentFor(t);
    const body = bytes(200_000, 71);
    server.route("/keep.bin", { body });
    const before = server.connections;
    for (const how of ["lend", "stream", "dump", "lend"] as const) {
      const response = await get(agent, server.url("/keep.bin"));
      assert.equal(response.statusCode, 200);
      if (how === "dump") await response.body.dump({ limit: 1024 * 1024 });
      else assert.ok((await readAll(response, how)).data.equals(body), how);
    }
    assert.equal(server.connections - before, 1, "one connection for all four");
  });

  test("a body not read to its end: its connection is closed, and the next request opens another", async (t) => {
    const agent = agentFor(t);
    server.route("/half.bin", { body: bytes(3_000_000, 72) });
    const before = server.connections;
    const first = await get(agent, server.url("/half.bin"));
    await new Promise<void>((resolve) =>
      first.body.lend({
        chunk(_chunk, release) {
          release();
          first.body.destroy();
          resolve();
        },
        end: resolve,
        error: () => resolve(),
      }),
    );
    const second = await get(agent, server.url("/half.bin"));
    assert.equal((await lendAll(second.body)).data.length, 3_000_000);
    assert.equal(server.connections - before, 2);
    // Dumping more than the limit cuts the body too.
    const third = await get(agent, server.url("/half.bin"));
    await third.body.dump({ limit: 1000 });
    await get(agent, server.url("/half.bin")).then((r) => r.body.dump());
    assert.equal(server.connections - before, 3);
  });

  test("Connection: close and HTTP/1.0: a connection for each request", async (t) => {
    for (const status of ["HTTP/1.1 200 OK\r\nConnection: close", "HTTP/1.0 200 OK"]) {
      const agent = agentFor(t);
      const raw = await rawServer(t, (socket) => {
        socket.write(`${status}\r\nContent-Length: 5\r\n\r\nhello`);
      });
      for (let i = 0; i < 3; i += 1) {
        const { data } = await lendAll((await get(agent, raw.url("/x"))).body);
        assert.equal(data.toString(), "hello");
      }
      assert.equal(raw.connections, 3, status);
    }
  });

  test("HEAD and 304: no body, and the connection is reused", async (t) => {
    const agent = agentFor(t);
    const body = bytes(100_000, 73);
    server.route("/head.bin", { body });
    const before = server.connections;
    const head = await agent.request(new URL(server.url("/head.bin")), {
      method: "HEAD",
      headers: {},
      signal: never(),
    });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers["content-length"], String(body.length));
    assert.equal((await lendAll(head.body)).data.length, 0);
    const notModified = await get(agent, server.url("/head.bin"), {
      "if-none-match": etagOf(body),
    });
    assert.equal(notModified.statusCode, 304);
    assert.equal((await streamAll(notModified.body)).data.length, 0);
    const whole = await get(agent, server.url("/head.bin"));
    assert.ok((await lendAll(whole.body)).data.equals(body));
    assert.equal(server.connections - before, 1);
  });

  test("206 for a resume with Range and If-Range, through HttpSource", async () => {
    const client = await HttpClient.create({
      timeoutMs: 5000,
      headers: {},
      userAgent: "test",
      now: Date.now,
    });
    try {
      const body = bytes(500_000, 74);
      server.route("/ranged.bin", { body });
      const source = client.source(server.url("/ranged.bin"));
      const opened = await source.open({
        offset: 123_456,
        resumeIf: { etag: etagOf(body) },
        unchangedIf: undefined,
        signal: never(),
      });
      assert.equal(opened.kind, "body");
      if (opened.kind !== "body") return;
      assert.equal(opened.offset, 123_456);
      assert.equal(opened.length, body.length - 123_456);
      assert.ok((await lendAll(opened.body as H1Body)).data.equals(body.subarray(123_456)));
      const sent = server.requestsFor("/ranged.bin")[0]?.headers;
      assert.equal(sent?.range, "bytes=123456-");
      assert.equal(sent?.["if-range"], etagOf(body));
    } finally {
      await client.close();
    }
  });

  test("redirects through HttpClient.get: the final answer and its URL", async () => {
    const client = await HttpClient.create({
      timeoutMs: 5000,
      headers: {},
      userAgent: "test",
      now: Date.now,
    });
    try {
      server.route("/target.bin", { body: Buffer.from("moved here") });
      server.route("/start.bin", {
        body: Buffer.alloc(0),
        script: [{ kind: "redirect", location: "/middle.bin", status: 301 }],
      });
      server.route("/middle.bin", {
        body: Buffer.alloc(0),
        script: [{ kind: "redirect", location: server.url("/target.bin"), status: 307 }],
      });
      const hops: string[] = [];
      const { response, url } = await client.get(
        server.url("/start.bin"),
        {},
        never(),
        "GET",
        (hop) => hops.push(hop.pathname),
      );
      assert.equal(response.statusCode, 200);
      assert.equal(response.engine, "h1");
      assert.equal(url.pathname, "/target.bin");
      assert.deepEqual(hops, ["/start.bin", "/middle.bin", "/target.bin"]);
      assert.equal((await streamAll(response.body as H1Body)).data.toString(), "moved here");
    } finally {
      await client.close();
    }
  });

  test("a stray CRLF after a body (a CGI script's last newline) does not fail the connection's next answer", async (t) => {
    const agent = agentFor(t);
    // The line end a server wrote after the last answer's body reaches the client before the
    // next answer, in a segment of its own or not.
    const raw = await rawServer(t, (socket, _request, index) => {
      if (index > 0) socket.write("\r\n");
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    for (let i = 0; i < 4; i += 1) {
      const { data, error } = await lendAll((await get(agent, raw.url(`/stray${i}`))).body);
      assert.equal(error, undefined);
      assert.equal(data.toString(), "ok");
    }
    assert.equal(raw.requests.length, 4, "each sent once");
  });

  test("a reused connection the server closed before answering: the request goes again on a new one", async (t) => {
    const agent = agentFor(t);
    // Answers the first request of each connection and closes on the second, unanswered, as a
    // server whose keep-alive ran out just as the request left.
    const raw = await rawServer(t, (socket, _request, index) => {
      if (index === 0) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
      else socket.destroy();
    });
    for (let i = 0; i < 3; i += 1) {
      const { data, error } = await lendAll((await get(agent, raw.url("/again"))).body);
      assert.equal(error, undefined);
      assert.equal(data.toString(), "ok");
    }
    assert.equal(raw.connections, 3);
    assert.equal(raw.requests.length, 5, "the second and third were each sent twice");
  });
});

describe("h1 client: failures", () => {
  test("a server that cuts mid-body: every byte that arrived is delivered, then H1_SOCKET (network, retryable)", async (t) => {
    const agent = agentFor(t);
    const body = bytes(300_000, 75);
    for (const how of ["lend", "stream"] as const) {
      server.route(`/cut-${how}.bin`, { body, script: [{ kind: "short", bytes: 123_457 }] });
      const response = await get(agent, server.url(`/cut-${how}.bin`));
      const { data, error } = await readAll(response, how);
      assert.ok(data.equals(body.subarray(0, 123_457)), `${how}: exactly what was sent`);
      assert.equal((error as H1Error).code, "H1_SOCKET", how);
      const described = describeHttpError(error, "x");
      assert.equal(described.code, "network");
      assert.equal(described.retryable, true);
      assert.equal(described.discardPartial, false);
    }
  });

  test("a stalled body fails with H1_BODY_TIMEOUT after the timeout, classified as a timeout", async (t) => {
    const agent = agentFor(t, 400);
    server.route("/stall.bin", {
      body: bytes(100_000, 76),
      script: [{ kind: "stall", afterBytes: 10_000 }],
    });
    const started = Date.now();
    const { data, error } = await lendAll((await get(agent, server.url("/stall.bin"))).body);
    assert.equal(data.length, 10_000);
    assert.equal((error as H1Error).code, "H1_BODY_TIMEOUT");
    assert.ok(Date.now() - started >= 350, "not before the timeout");
    const described = describeHttpError(error, "x");
    assert.equal(described.code, "timeout");
    assert.equal(described.retryable, true);
    assert.equal(described.unreachable, false);
  });

  test("a body held paused longer than the timeout does not time out", async (t) => {
    const agent = agentFor(t, 300);
    const body = bytes(2_000_000, 77);
    server.route("/paused.bin", { body });
    const response = await get(agent, server.url("/paused.bin"));
    const chunks: Buffer[] = [];
    const result = await new Promise<unknown>((resolve) => {
      let paused = false;
      response.body.lend({
        chunk(chunk, release) {
          chunks.push(Buffer.from(chunk));
          release();
          if (paused) return;
          paused = true;
          response.body.pauseLending();
          setTimeout(() => response.body.resumeLending(), 900);
        },
        end: () => resolve(undefined),
        error: resolve,
      });
    });
    assert.equal(result, undefined);
    assert.ok(Buffer.concat(chunks).equals(body));
  });

  test("no response head in time: H1_HEADERS_TIMEOUT; nobody listening: ECONNREFUSED, unreachable", async (t) => {
    const agent = agentFor(t, 300);
    server.route("/silent.bin", { body: Buffer.from("x"), script: [{ kind: "hold-answer" }] });
    await assert.rejects(get(agent, server.url("/silent.bin")), (error: H1Error) => {
      assert.equal(error.code, "H1_HEADERS_TIMEOUT");
      const described = describeHttpError(error, "x");
      assert.equal(described.code, "timeout");
      assert.equal(described.unreachable, false);
      return true;
    });
    server.release();
    const port = await freePort();
    await assert.rejects(get(agent, `http://127.0.0.1:${port}/`), (error: Error) => {
      const described = describeHttpError(error, "x");
      assert.equal(described.code, "network");
      assert.equal(described.unreachable, true);
      assert.match(described.message, /ECONNREFUSED/);
      return true;
    });
  });

  test("a signal no request waits on any more has no listener left (an AbortSignal.any one would live until it aborted)", async (t) => {
    const agent = agentFor(t);
    const body = bytes(500, 85);
    server.route("/listeners.bin", { body });
    server.route("/listeners-held.bin", { body, script: [{ kind: "hold-answer" }] });
    const signal = AbortSignal.any([new AbortController().signal]);
    const held = get(agent, server.url("/listeners-held.bin"), {}, signal);
    await server.waitFor(() => server.requestsFor("/listeners-held.bin").length === 1);
    assert.equal(getEventListeners(signal, "abort").length, 1, "watched while a request waits");
    const other = await get(agent, server.url("/listeners.bin"), {}, signal);
    assert.ok((await lendAll(other.body)).data.equals(body));
    assert.equal(getEventListeners(signal, "abort").length, 1, "one listener for both");
    server.release();
    assert.ok((await lendAll((await held).body)).data.equals(body));
    const again = await get(
      agent,
      server.url("/listeners.bin"),
      { "if-none-match": etagOf(body) },
      signal,
    );
    assert.equal(again.statusCode, 304);
    assert.equal(getEventListeners(signal, "abort").length, 0);
  });

  test("timers on a reused connection: its next request still times out, and it is closed when idle again", async (t) => {
    const agent = new H1Agent({ timeoutMs: 300, idleMs: 150 });
    t.after(() => agent.close());
    const body = bytes(2000, 83);
    server.route("/timed.bin", { body });
    server.route("/timed-silent.bin", { body, script: [{ kind: "hold-answer" }] });
    const pool = () => agent.poolOf(new URL(server.url("/")));
    /** Waits (bounded) until the pool has no connection open: the idle timer closed it. */
    const idleClosed = async () => {
      for (let i = 0; i < 100 && (pool()?.openConnections ?? 0) > 0; i += 1)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(pool()?.openConnections, 0, "the idle connection was closed");
    };
    for (let round = 1; round <= 2; round += 1) {
      // Two requests on one connection, then idle: closed after idleMs.
      for (let i = 0; i < 2; i += 1) {
        const response = await get(agent, server.url("/timed.bin"));
        assert.ok((await lendAll(response.body)).data.equals(body));
      }
      assert.equal(pool()?.openedConnections, round);
      await idleClosed();
    }
    // A connection that served a request, then one that never gets its head: the deadline holds.
    const first = await get(agent, server.url("/timed.bin"));
    assert.ok((await lendAll(first.body)).data.equals(body));
    await assert.rejects(get(agent, server.url("/timed-silent.bin")), (error: H1Error) => {
      assert.equal(error.code, "H1_HEADERS_TIMEOUT");
      return true;
    });
    assert.equal(pool()?.openedConnections, 3, "the silent request went on the reused connection");
    server.release();
  });

  test("a TLS handshake that never ends: H1_CONNECT_TIMEOUT, a timeout of an unreachable origin", async (t) => {
    const agent = agentFor(t, 300);
    const silent = createNetServer((socket) => socket.on("error", () => {}));
    silent.listen(0, "127.0.0.1");
    await once(silent, "listening");
    t.after(() => {
      silent.close();
    });
    const port = (silent.address() as { port: number }).port;
    await assert.rejects(get(agent, `https://127.0.0.1:${port}/`), (error: H1Error) => {
      assert.equal(error.code, "H1_CONNECT_TIMEOUT");
      const described = describeHttpError(error, "x");
      assert.equal(described.code, "timeout");
      assert.equal(described.unreachable, true);
      return true;
    });
  });

  test("an abort: while connecting, waiting for the head, or mid-body, with the abort's reason", async (t) => {
    const agent = agentFor(t);
    const reason = new Error("stop now");
    server.route("/abort-head.bin", { body: Buffer.from("x"), script: [{ kind: "hold-answer" }] });
    const early = new AbortController();
    const pending = get(agent, server.url("/abort-head.bin"), {}, early.signal);
    setTimeout(() => early.abort(reason), 50);
    await assert.rejects(pending, (error) => error === reason);
    server.release();

    server.route("/abort-body.bin", {
      body: bytes(1_000_000, 78),
      script: [{ kind: "hold", afterBytes: 50_000 }],
    });
    const late = new AbortController();
    const response = await get(agent, server.url("/abort-body.bin"), {}, late.signal);
    const reading = lendAll(response.body);
    setTimeout(() => late.abort(reason), 100);
    const { data, error } = await reading;
    assert.equal(error, reason);
    assert.ok(data.length >= 0 && data.length <= 1_000_000);
    server.release();

    const before = new AbortController();
    before.abort(reason);
    await assert.rejects(
      get(agent, server.url("/abort-body.bin"), {}, before.signal),
      (e) => e === reason,
    );
  });

  test("one signal shared by many requests: its abort fails those in flight, and a connection that finished on it stays usable", async (t) => {
    const agent = agentFor(t);
    const reason = new Error("the run stops");
    const shared = new AbortController();
    const body = bytes(1000, 81);
    server.route("/shared-done.bin", { body });
    server.route("/shared-held.bin", {
      body,
      script: [{ kind: "hold-answer" }, { kind: "hold-answer" }],
    });
    // Two requests held on the shared signal (two connections) …
    const first = get(agent, server.url("/shared-held.bin"), {}, shared.signal);
    const second = get(agent, server.url("/shared-held.bin"), {}, shared.signal);
    await server.waitFor(() => server.requestsFor("/shared-held.bin").length === 2);
    // … and one that finishes on it (a third): its connection goes back to the pool.
    const done = await get(agent, server.url("/shared-done.bin"), {}, shared.signal);
    assert.ok((await lendAll(done.body)).data.equals(body));
    const pool = agent.poolOf(new URL(server.url("/")));
    assert.equal(pool?.openedConnections, 3);
    shared.abort(reason);
    await assert.rejects(first, (error) => error === reason);
    await assert.rejects(second, (error) => error === reason);
    server.release();
    // The abort reached only the two in flight: the connection that finished is reused.
    const after = await get(agent, server.url("/shared-done.bin"));
    assert.ok((await lendAll(after.body)).data.equals(body));
    assert.equal(pool?.openedConnections, 3, "no connection opened after the abort");
  });

  test("response headers too large: H1_HEADERS_OVERFLOW, permanent", async (t) => {
    const agent = agentFor(t);
    const raw = await rawServer(t, (socket) => {
      socket.end(
        `HTTP/1.1 200 OK\r\nX-Junk: ${"a".repeat(200_000)}\r\nContent-Length: 3\r\n\r\nabc`,
      );
    });
    await assert.rejects(get(agent, raw.url("/")), (error: H1Error) => {
      assert.equal(error.code, "H1_HEADERS_OVERFLOW");
      const described = describeHttpError(error, "x");
      assert.equal(described.code, "http_error");
      assert.equal(described.retryable, false);
      assert.match(described.message, /headers too large/);
      return true;
    });
  });

  test("a header value with a line break is refused before anything is sent", async (t) => {
    const agent = agentFor(t);
    await assert.rejects(
      get(agent, server.url("/any"), { "x-evil": "a\r\nhost: evil" }),
      (error: H1Error) => {
        assert.equal(error.code, "H1_INVALID_ARG");
        assert.equal(describeHttpError(error, "x").code, "invalid_source");
        return true;
      },
    );
  });

  test("each h1 error is classified as its undici counterpart was", () => {
    const pairs: Array<[string, string]> = [
      ["H1_CONNECT_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"],
      ["H1_HEADERS_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"],
      ["H1_BODY_TIMEOUT", "UND_ERR_BODY_TIMEOUT"],
      ["H1_HEADERS_OVERFLOW", "UND_ERR_HEADERS_OVERFLOW"],
      ["H1_SOCKET", "UND_ERR_SOCKET"],
      ["H1_INVALID_ARG", "UND_ERR_INVALID_ARG"],
    ];
    const fields = (error: SyncError) => ({
      code: error.code,
      retryable: error.retryable,
      unreachable: error.unreachable,
      what: error.message.replace(/(H1|UND_ERR)_[A-Z_]+/, "CODE"),
    });
    for (const [ours, theirs] of pairs) {
      const a = describeHttpError(Object.assign(new Error("m"), { code: ours }), "here");
      const b = describeHttpError(Object.assign(new Error("m"), { code: theirs }), "here");
      assert.deepEqual(fields(a), fields(b), ours);
    }
    const broken = describeHttpError(
      new H1Error("H1_INVALID_RESPONSE", "invalid response: x"),
      "here",
    );
    assert.equal(broken.code, "network");
    assert.equal(broken.retryable, true);
    assert.equal(broken.discardPartial, true, "its bytes are never kept for a resume");
  });
});

describe("h1 client: backpressure", () => {
  test("a consumer that pauses stops the socket: the server's writes back up, nothing piles up here", async (t) => {
    const agent = agentFor(t);
    const size = 64 * 1024 * 1024;
    let written = 0;
    const raw = await rawServer(t, async (socket: Socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
      const piece = Buffer.alloc(64 * 1024, 7);
      while (written < size && !socket.destroyed) {
        written += piece.length;
        if (!socket.write(piece)) await once(socket, "drain").catch(() => {});
      }
    });
    const response = await get(agent, raw.url("/big"));
    let delivered = 0;
    let holding = true;
    let done: (value: unknown) => void = () => {};
    const finished = new Promise((resolve) => {
      done = resolve;
    });
    response.body.lend({
      chunk(chunk, release) {
        delivered += chunk.length;
        release();
        if (holding) response.body.pauseLending();
      },
      end: () => done(undefined),
      error: done,
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(delivered < 1024 * 1024, `delivered ${delivered} while paused`);
    assert.ok(
      written < 24 * 1024 * 1024,
      `the server could write only ${written} (socket buffers)`,
    );
    holding = false;
    response.body.resumeLending();
    assert.equal(await finished, undefined);
    assert.equal(delivered, size);
  });
});

describe("h1 client: responses over TCP in random segments", () => {
  test("property: a valid response arrives byte for byte, lent or streamed", async (t) => {
    const agent = agentFor(t);
    let next: { bytes: Buffer; sizes: number[] } = { bytes: Buffer.alloc(0), sizes: [1] };
    const raw = await rawServer(t, async (socket) => {
      await writeSlices(socket, sliced(next.bytes, next.sizes));
      socket.end();
    });
    await fc.assert(
      fc.asyncProperty(validResponses, sliceSizes, fc.boolean(), async (response, sizes, lend) => {
        next = { bytes: response.bytes, sizes };
        const answer = await get(agent, raw.url("/p"));
        assert.equal(answer.statusCode, response.status);
        const { data, error } = await readAll(answer, lend ? "lend" : "stream");
        assert.equal(error, undefined, String(error));
        assert.ok(data.equals(response.body), "the body, byte for byte");
      }),
      { numRuns: Math.ceil(RUNS / 5) },
    );
  });

  test("property: invalid framing over TCP is an error, never body bytes past the fault", async (t) => {
    const agent = agentFor(t);
    let next: { bytes: Buffer; sizes: number[] } = { bytes: Buffer.alloc(0), sizes: [1] };
    const raw = await rawServer(t, async (socket) => {
      await writeSlices(socket, sliced(next.bytes, next.sizes));
      socket.end();
    });
    await fc.assert(
      fc.asyncProperty(invalidResponses, sliceSizes, async (response, sizes) => {
        next = { bytes: response.bytes, sizes };
        let data: Buffer = Buffer.alloc(0);
        let error: unknown;
        try {
          ({ data, error } = await lendAll((await get(agent, raw.url("/p"))).body));
        } catch (failure) {
          error = failure;
        }
        assert.equal((error as H1Error).code, "H1_INVALID_RESPONSE", response.fault);
        assert.ok(data.length <= response.before.length, response.fault);
        assert.ok(response.before.subarray(0, data.length).equals(data), response.fault);
      }),
      { numRuns: Math.ceil(RUNS / 5) },
    );
  });
});
