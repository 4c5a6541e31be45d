/**
 * The hand-written response-head reader (src/sources/http/h1/head.ts) against the reader it
 * replaced (a split and regular expressions per line, test/helpers/h1-reference-head.ts): for
 * every head, valid or not, both give the same head or refuse it with the same message.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { parseHead } from "../../src/sources/http/h1/head.js";
import { referenceParseHead } from "../helpers/h1-reference-head.js";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300) * 10;

type Outcome = { head: unknown } | { refused: string };

function outcomeOf(parse: () => unknown): Outcome {
  try {
    return { head: parse() };
  } catch (error) {
    return { refused: error instanceof Error ? error.message : String(error) };
  }
}

/** Characters that matter to a head's reader, and some that should not. */
const tricky = fc.constantFrom(
  " ",
  "\t",
  ":",
  ",",
  "\r",
  "\n",
  "\u0000",
  "\u007f",
  "\u2028",
  "\u2029",
  "é",
  "a",
  "Z",
  "0",
  "9",
  "-",
  "(",
  "/",
  ".",
);
const text = (max: number) =>
  fc
    .array(fc.oneof(tricky, fc.string({ maxLength: 3 })), { maxLength: max })
    .map((parts) => parts.join(""));

/** Mostly well-formed pieces, so that most heads are read through; now and then anything. */
const reason = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("OK", "Not Modified", "Partial Content", "") },
  { weight: 1, arbitrary: text(6) },
);
const statusLine = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.constantFrom("HTTP/1.1", "HTTP/1.0"),
        fc.constantFrom("200", "206", "304", "204", "100", "103", "404", "503"),
        fc.oneof(
          reason.map((r) => ` ${r}`),
          fc.constant(""),
        ),
      )
      .map(([version, code, r]) => `${version} ${code}${r}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/1.2", "HTTP/2.0", "http/1.1", "HTTP/1.1 "),
        fc.constantFrom(" ", "", "  ", "\t"),
        fc.oneof(
          fc.constantFrom("200", "101", "199", "099", "1000", "2x0"),
          fc.integer({ min: 0, max: 999 }).map(String),
        ),
        fc.oneof(
          fc.constant(""),
          text(6).map((r) => ` ${r}`),
          text(4),
        ),
      )
      .map(([version, gap, code, r]) => `${version}${gap}${code}${r}`),
  },
  { weight: 1, arbitrary: text(20) },
);

const fieldName = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(
      "Content-Length",
      "content-length",
      "Transfer-Encoding",
      "Connection",
      "ETag",
      "Keep-Alive",
      "Last-Modified",
      "X-A",
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom("", "Bad Name", "Bad\tName", "Ä") },
  { weight: 1, arbitrary: text(5) },
);
const fieldValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "0",
      "12",
      "12, 12",
      "12,13",
      "chunked",
      "gzip, chunked",
      "close",
      "keep-alive, Close",
      " 5 ",
      "\t7\t",
      "",
      "timeout=5",
      '"abc"',
    ),
  },
  { weight: 2, arbitrary: text(10) },
);
const fieldLine = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(fieldName, fc.constantFrom(":", ": ", ":\t", ":  "), fieldValue)
      .map(([name, colon, value]) => `${name}${colon}${value}`),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fieldName, fc.constantFrom(" :", ""), fieldValue)
      .map(([name, colon, value]) => `${name}${colon}${value}`),
  },
  // An obs-fold continuation.
  { weight: 1, arbitrary: fieldValue.map((value) => ` ${value}`) },
  { weight: 1, arbitrary: fieldValue.map((value) => `\t${value}`) },
);

const head = fc
  .tuple(
    statusLine,
    fc.array(fieldLine, { maxLength: 8 }),
    fc.constantFrom("\r\n", "\n"),
    fc.constantFrom("\r\n", "\n"),
  )
  .map(
    ([status, fields, eol, last]) =>
      // As the parser hands it over: up to and with the first empty line.
      `${[status, ...fields].join(eol)}${eol}${last}`,
  )
  .filter((whole) => {
    // One empty line, at the end: what the parser's search for the head's end guarantees.
    const body = whole.replace(/\r?\n\r?\n$/, "");
    return !/\n\r?\n/.test(body) && !/\n\r?$/.test(body);
  });

describe("response heads read by hand", () => {
  test("property: the same head, or the same refusal, as the reader it replaced", () => {
    fc.assert(
      fc.property(head, fc.boolean(), (whole, headRequest) => {
        assert.deepEqual(
          outcomeOf(() => parseHead(whole, headRequest)),
          outcomeOf(() => referenceParseHead(whole, headRequest)),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("heads of real servers' answers, and refusals, read as before", () => {
    const cases = [
      'HTTP/1.1 304 Not Modified\r\nServer: nginx\r\nDate: Mon, 07 Dec 2026 00:00:00 GMT\r\nETag: "6b15-4000"\r\n\r\n',
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
      "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n  folded\r\n\r\n",
      "HTTP/1.1 200\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
      "HTTP/1.1 200 O\rK\r\n\r\n",
      "HTTP/1.1 101 Switching\r\n\r\n",
      "HTTP/1.1 200 OK\u2028\r\n\r\n",
      "HTTP/1.1 099 Low\r\n\r\n",
      "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    ];
    for (const whole of cases) {
      for (const headRequest of [false, true]) {
        assert.deepEqual(
          outcomeOf(() => parseHead(whole, headRequest)),
          outcomeOf(() => referenceParseHead(whole, headRequest)),
          JSON.stringify(whole),
        );
      }
    }
  });

  test("fields named like Object's own properties are fields like any other", () => {
    const head = parseHead(
      "HTTP/1.1 200 OK\r\nConstructor: a\r\n__proto__: b\r\nconstructor: c\r\ntoString: d\r\n  e\r\nContent-Length: 0\r\n\r\n",
      false,
    );
    assert.deepEqual(Object.keys(head.headers), [
      "constructor",
      "__proto__",
      "tostring",
      "content-length",
    ]);
    assert.deepEqual(head.headers.constructor, ["a", "c"]);
    assert.equal(Object.getOwnPropertyDescriptor(head.headers, "__proto__")?.value, "b");
    assert.equal(head.headers.tostring, "d e");
    assert.equal(Object.getPrototypeOf(head.headers), Object.prototype);
    assert.equal(head.framing, "length");
  });
});
