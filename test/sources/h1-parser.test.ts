/**
 * The HTTP/1.x response parser (src/sources/http/h1/parser.ts), fed responses cut at random
 * boundaries: a valid response's body comes out byte for byte; an invalid framing is an error,
 * and no byte of it (or after it) ever comes out as body. Every input slice is overwritten as
 * soon as the parser returns, as a reused read buffer would be: the parser must keep nothing of
 * it but copies.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { H1Error } from "../../src/sources/http/h1/errors.js";
import type { ResponseHead } from "../../src/sources/http/h1/head.js";
import { ResponseParser } from "../../src/sources/http/h1/parser.js";
import {
  invalidResponses,
  selfDelimited,
  sliced,
  sliceSizes,
  validResponses,
} from "../helpers/h1-responses.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const LIMIT = 16 * 1024;

interface Outcome {
  head: ResponseHead | undefined;
  body: Buffer;
  complete: boolean;
  error: unknown;
  /** Where parsing stopped in the whole input (after the response, when it completed). */
  stoppedAt: number;
}

/** Parses `slices` in turn (then the end of the connection, if `eof`), as a connection would. */
function parse(slices: Buffer[], options: { eof?: boolean; headRequest?: boolean } = {}): Outcome {
  const chunks: Buffer[] = [];
  const outcome: Outcome = {
    head: undefined,
    body: Buffer.alloc(0),
    complete: false,
    error: undefined,
    stoppedAt: 0,
  };
  const parser = new ResponseParser(
    {
      head: (head) => {
        assert.equal(outcome.head, undefined, "one final head");
        outcome.head = head;
      },
      body: (chunk) => {
        assert.ok(!outcome.complete, "no body after the end");
        chunks.push(Buffer.from(chunk)); // a copy: the slice is overwritten below
      },
      complete: () => {
        outcome.complete = true;
      },
    },
    { headRequest: options.headRequest ?? false, maxHeaderBytes: LIMIT },
  );
  let offset = 0;
  try {
    for (const slice of slices) {
      const input = Buffer.from(slice);
      const used = parser.execute(input);
      input.fill(0xaa); // the read buffer is reused at once
      if (outcome.complete) {
        outcome.stoppedAt = offset + used;
        break;
      }
      assert.equal(used, input.length, "an incomplete response takes every byte");
      offset += input.length;
    }
    if (!outcome.complete && options.eof) parser.eof();
  } catch (error) {
    outcome.error = error;
  }
  outcome.body = Buffer.concat(chunks);
  return outcome;
}

describe("h1 response parser", () => {
  test("property: a valid response, cut anywhere, gives its status and exactly its body", () => {
    fc.assert(
      fc.property(validResponses, sliceSizes, (response, sizes) => {
        const out = parse(sliced(response.bytes, sizes), { eof: true });
        assert.equal(out.error, undefined, String(out.error));
        assert.equal(out.head?.status, response.status);
        assert.ok(out.complete);
        assert.ok(out.body.equals(response.body), "the body, byte for byte");
        assert.equal(out.head?.framing, response.framing);
        if (response.framing === "close") assert.equal(out.head?.reusable, false);
        else assert.equal(out.head?.reusable, response.minor === 1);
      }),
      { numRuns: RUNS },
    );
  });

  test("property: a response framed by length or chunks ends by itself; what follows is left", () => {
    fc.assert(
      fc.property(
        selfDelimited,
        sliceSizes,
        fc.uint8Array({ minLength: 1, maxLength: 50 }),
        (response, sizes, after) => {
          const bytes = Buffer.concat([response.bytes, after]);
          const out = parse(sliced(bytes, sizes));
          assert.equal(out.error, undefined, String(out.error));
          assert.ok(out.complete, "complete without the connection's end");
          assert.ok(out.body.equals(response.body));
          assert.equal(out.stoppedAt, response.bytes.length, "stops at the response's last byte");
        },
      ),
      { numRuns: RUNS },
    );
  });

  test("property: invalid framing is an error, and nothing of it comes out as body", () => {
    fc.assert(
      fc.property(invalidResponses, sliceSizes, (response, sizes) => {
        const out = parse(sliced(response.bytes, sizes), { eof: true });
        assert.ok(out.error instanceof H1Error, `${response.fault}: ${String(out.error)}`);
        assert.equal(out.error.code, "H1_INVALID_RESPONSE", response.fault);
        assert.ok(!out.complete, `${response.fault}: never complete`);
        assert.ok(
          response.before.subarray(0, out.body.length).equals(out.body) &&
            out.body.length <= response.before.length,
          `${response.fault}: only bytes framed before the fault came out`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("property: a connection cut before the end is an error (a body delimited by the close excepted)", () => {
    fc.assert(
      fc.property(selfDelimited, fc.double({ min: 0, max: 1, noNaN: true }), (response, where) => {
        const cut = Math.floor(where * (response.bytes.length - 1));
        const out = parse([response.bytes.subarray(0, cut)], { eof: true });
        assert.ok(out.error instanceof H1Error, String(out.error));
        assert.equal(out.error.code, "H1_SOCKET");
        assert.equal(out.error.beforeResponse, cut === 0);
        assert.ok(response.body.subarray(0, out.body.length).equals(out.body), "a prefix");
      }),
      { numRuns: RUNS },
    );
  });

  test("1xx answers are skipped, 101 is refused", () => {
    const out = parse([
      Buffer.from(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
      ),
    ]);
    assert.equal(out.head?.status, 200);
    assert.equal(
      out.head?.headers.link,
      undefined,
      "an interim answer's fields are not the answer's",
    );
    assert.equal(out.body.toString(), "hi");
    const upgraded = parse([Buffer.from("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n")]);
    assert.equal((upgraded.error as H1Error).code, "H1_INVALID_RESPONSE");
  });

  test("empty lines before the status line are skipped, in any pieces; bounded like a head", () => {
    for (const slices of [
      ["\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"],
      ["\r", "\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"],
      ["\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"],
    ]) {
      const out = parse(slices.map((slice) => Buffer.from(slice)));
      assert.equal(out.error, undefined, JSON.stringify(slices));
      assert.equal(out.head?.status, 200);
      assert.equal(out.body.toString(), "hi");
    }
    const flood = parse([Buffer.alloc(LIMIT + 10, "\r\n")]);
    assert.equal((flood.error as H1Error).code, "H1_HEADERS_OVERFLOW");
    // Line ends alone, then the close: the answer had not begun (a reused connection's request
    // may go again on a new one).
    const parser = new ResponseParser(
      { head: () => {}, body: () => {}, complete: () => {} },
      { headRequest: false, maxHeaderBytes: LIMIT },
    );
    parser.execute(Buffer.from("\r\n"));
    assert.equal(parser.untouched, true);
    assert.throws(
      () => parser.eof(),
      (error: unknown) => error instanceof H1Error && error.code === "H1_SOCKET",
    );
  });

  test("HEAD, 204 and 304 have no body, whatever their fields say", () => {
    const head = parse([Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")], {
      headRequest: true,
    });
    assert.ok(head.complete);
    assert.equal(head.body.length, 0);
    assert.equal(head.head?.reusable, true);
    for (const status of [204, 304]) {
      const out = parse([
        Buffer.from(
          `HTTP/1.1 ${status} X\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n`,
        ),
      ]);
      assert.ok(out.complete, `${status}`);
      assert.equal(out.stoppedAt, out.stoppedAt);
      assert.equal(out.body.length, 0);
    }
  });

  test("fields: names lower-cased, repeats as arrays, folded lines joined, optional whitespace trimmed", () => {
    const out = parse([
      Buffer.from(
        'HTTP/1.1 200 OK\r\nETag:  "a" \t\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Long: one\r\n  two\r\nContent-Length: 0\r\n\r\n',
      ),
    ]);
    assert.equal(out.error, undefined);
    assert.deepEqual(out.head?.headers, {
      etag: '"a"',
      "set-cookie": ["a=1", "b=2"],
      "x-long": "one two",
      "content-length": "0",
    });
    assert.equal(out.head?.statusText, "OK");
  });

  test("a connection that may not be reused: HTTP/1.0, Connection: close, a body delimited by the close", () => {
    const reusable = (text: string) => parse([Buffer.from(text)]).head?.reusable;
    assert.equal(reusable("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), true);
    assert.equal(
      reusable("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n"),
      false,
    );
    assert.equal(
      reusable("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"),
      false,
    );
    assert.equal(reusable("HTTP/1.1 200 OK\r\n\r\n"), false);
    assert.equal(
      reusable("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n"),
      true,
      "a repeated Content-Length of one value is one",
    );
  });

  test("a head over the limit is H1_HEADERS_OVERFLOW, in one piece or in many", () => {
    const huge = Buffer.from(`HTTP/1.1 200 OK\r\nX-Junk: ${"a".repeat(LIMIT)}\r\n\r\n`);
    for (const slices of [[huge], sliced(huge, [100])]) {
      const out = parse(slices);
      assert.equal((out.error as H1Error).code, "H1_HEADERS_OVERFLOW");
    }
    const trailers = Buffer.from(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: ${"b".repeat(LIMIT)}\r\n\r\n`,
    );
    assert.equal((parse([trailers]).error as H1Error).code, "H1_HEADERS_OVERFLOW");
    const justUnder = Buffer.from(
      `HTTP/1.1 200 OK\r\nX-Junk: ${"a".repeat(LIMIT - 100)}\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.ok(parse([justUnder]).complete);
  });

  test("a chunk size line too long, and extensions of any kind", () => {
    const ok = parse([
      Buffer.from(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3 ; a=b;c="d;e"\r\nabc\r\n0;last\r\nX-Checksum: 1\r\n\r\n',
      ),
    ]);
    assert.equal(ok.error, undefined);
    assert.equal(ok.body.toString(), "abc");
    const long = parse([
      Buffer.from(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;${"x".repeat(9000)}\r\nabc\r\n0\r\n\r\n`,
      ),
    ]);
    assert.equal((long.error as H1Error).code, "H1_INVALID_RESPONSE");
  });

  test("a stopped parser hands out nothing more", () => {
    let parser: ResponseParser | undefined;
    const seen: string[] = [];
    parser = new ResponseParser(
      {
        head: () => {},
        body: (chunk) => {
          seen.push(chunk.toString());
          parser?.stop();
        },
        complete: () => seen.push("complete"),
      },
      { headRequest: false, maxHeaderBytes: LIMIT },
    );
    parser.execute(
      Buffer.from(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n",
      ),
    );
    assert.deepEqual(seen, ["a"]);
    assert.equal(parser.done, false);
  });
});
