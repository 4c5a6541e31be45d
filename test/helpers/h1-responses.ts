/**
 * Random HTTP/1.x responses for the parser's property tests, as the bytes a server would send and
 * the body they frame: status lines of either version, header names in any case, interim 1xx
 * answers first, bodies delimited by Content-Length, by chunks (random sizes, hex in any case with
 * leading zeros, extensions, trailers) or by the close, lines ended by CRLF or a bare LF. And
 * invalid ones: a valid response with one framing fault put in, with the body bytes that may come
 * out before the fault is reached (a prefix of the intended body; none for a fault in the head).
 */
import fc from "fast-check";

export interface ResponseCase {
  bytes: Buffer;
  status: number;
  body: Buffer;
  framing: "length" | "chunked" | "close";
  minor: 0 | 1;
}

export interface InvalidCase {
  bytes: Buffer;
  /** What the fault is, for messages. */
  fault: string;
  /** The body bytes framed before the fault: what was delivered must be a prefix of them. */
  before: Buffer;
}

const FRAMING_NAMES = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

/** A name in a random mix of cases. */
export function anyCase(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) =>
      [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""),
    );
}

const fieldName = fc
  .stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,14}$/)
  .filter((name) => !FRAMING_NAMES.has(name.toLowerCase()));
/** Field values: printable, with inner spaces; outer spaces are optional whitespace. */
const fieldValue = fc.stringMatching(/^[!-~]([ !-~]{0,30}[!-~])?$/);
const ows = fc.constantFrom("", " ", "  ", "\t");
const fields = fc.array(fc.tuple(fieldName, ows, fieldValue, ows), { maxLength: 5 });
const reasons = fc.constantFrom(
  "",
  " ",
  " OK",
  " Partial Content",
  " Non-Authoritative Info",
  " x",
);
const interims = fc.array(fc.tuple(fc.constantFrom(100, 102, 103), reasons, fields), {
  maxLength: 2,
});
const bodies = fc
  .oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 3000 }),
    fc.uint8Array({ minLength: 65_000, maxLength: 70_000 }),
  )
  .map((bytes) => Buffer.from(bytes));
const extension = fc.oneof(
  fc.constant(""),
  fc.stringMatching(/^[a-z]{1,8}$/).map((name) => `;${name}`),
  fc
    .tuple(ows, fc.stringMatching(/^[a-z]{1,8}$/), fc.stringMatching(/^[a-z0-9]{0,8}$/))
    .map(([space, name, value]) => `${space};${name}=${value}`),
  fc.stringMatching(/^[a-z]{1,8}$/).map((name) => `;${name}="quoted; value"`),
);

/** The line end of a response: CRLF, or a bare LF (which parsers accept). */
const eols = fc.constantFrom("\r\n", "\r\n", "\r\n", "\n");

interface Parts {
  minor: 0 | 1;
  status: number;
  reason: string;
  interims: Array<[number, string, Array<[string, string, string, string]>]>;
  fields: Array<[string, string, string, string]>;
  body: Buffer;
  eol: string;
  lengthName: string;
  teName: string;
  /** Cut points of the chunks, as fractions of the body. */
  cuts: number[];
  sizes: Array<{ zeros: number; upper: boolean; ext: string }>;
  trailers: Array<[string, string, string, string]>;
  framing: "length" | "chunked" | "close";
}

const parts: fc.Arbitrary<Parts> = fc.record({
  minor: fc.constantFrom<0 | 1>(0, 1, 1),
  status: fc.integer({ min: 200, max: 599 }).filter((s) => s !== 204 && s !== 304),
  reason: reasons,
  interims,
  fields,
  body: bodies,
  eol: eols,
  lengthName: anyCase("content-length"),
  teName: anyCase("transfer-encoding"),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 }),
  sizes: fc.array(fc.record({ zeros: fc.nat(3), upper: fc.boolean(), ext: extension }), {
    minLength: 10,
    maxLength: 10,
  }),
  trailers: fc.array(fc.tuple(fieldName, ows, fieldValue, ows), { maxLength: 3 }),
  framing: fc.constantFrom<Parts["framing"]>("length", "chunked", "close"),
});

function fieldLines(list: Parts["fields"], eol: string): string {
  return list
    .map(([name, before, value, after]) => `${name}:${before}${value}${after}${eol}`)
    .join("");
}

/** The chunks of `body` at `cuts` (empty chunks dropped: a zero size ends the body). */
export function chunksOf(body: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((f) => Math.floor(f * body.length)))]
    .filter((p) => p > 0 && p < body.length)
    .sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, body.length]) {
    if (point > at) chunks.push(body.subarray(at, point));
    at = point;
  }
  return chunks;
}

function sizeLine(size: number, how: { zeros: number; upper: boolean; ext: string }): string {
  const hex = size.toString(16);
  return `${"0".repeat(how.zeros)}${how.upper ? hex.toUpperCase() : hex}${how.ext}`;
}

function build(p: Parts, framing: Parts["framing"]): ResponseCase & { chunks: Buffer[] } {
  const { eol } = p;
  let head = "";
  for (const [status, reason, list] of p.interims)
    head += `HTTP/1.1 ${status}${reason}${eol}${fieldLines(list, eol)}${eol}`;
  head += `HTTP/1.${p.minor} ${p.status}${p.reason}${eol}${fieldLines(p.fields, eol)}`;
  const chunks = chunksOf(p.body, p.cuts);
  if (framing === "length") {
    head += `${p.lengthName}: ${p.body.length}${eol}${eol}`;
    return {
      bytes: Buffer.concat([Buffer.from(head), p.body]),
      status: p.status,
      body: p.body,
      framing,
      minor: p.minor,
      chunks,
    };
  }
  if (framing === "close") {
    head += eol;
    return {
      bytes: Buffer.concat([Buffer.from(head), p.body]),
      status: p.status,
      body: p.body,
      framing,
      minor: p.minor,
      chunks,
    };
  }
  head += `${p.teName}: chunked${eol}${eol}`;
  const pieces: Buffer[] = [Buffer.from(head)];
  chunks.forEach((chunk, i) => {
    const how = p.sizes[i % p.sizes.length] as Parts["sizes"][number];
    pieces.push(Buffer.from(`${sizeLine(chunk.length, how)}\r\n`), chunk, Buffer.from("\r\n"));
  });
  const last = p.sizes[9] as Parts["sizes"][number];
  pieces.push(
    Buffer.from(`${"0".repeat(last.zeros)}0${last.ext}${eol}${fieldLines(p.trailers, eol)}${eol}`),
  );
  return {
    bytes: Buffer.concat(pieces),
    status: p.status,
    body: p.body,
    framing,
    minor: 1,
    chunks,
  };
}

/** A valid response (chunked only in HTTP/1.1). */
export const validResponses: fc.Arbitrary<ResponseCase> = parts.map((p) => {
  const framing = p.framing === "chunked" && p.minor === 0 ? "length" : p.framing;
  const { chunks: _chunks, ...rest } = build(
    { ...p, minor: framing === "chunked" ? 1 : p.minor },
    framing,
  );
  return rest;
});

/** A valid response with a body framed by length or chunks (it ends by itself). */
export const selfDelimited = validResponses.filter((r) => r.framing !== "close");

const headFaults: Array<[string, (head: string, eol: string) => string]> = [
  [
    "Transfer-Encoding and Content-Length",
    (h, e) => `${h}Transfer-Encoding: chunked${e}Content-Length: 5${e}`,
  ],
  [
    "Content-Length and Transfer-Encoding",
    (h, e) => `${h}content-length: 0${e}transfer-encoding: chunked${e}`,
  ],
  ["Transfer-Encoding: gzip", (h, e) => `${h}Transfer-Encoding: gzip${e}`],
  ["Transfer-Encoding: gzip, chunked", (h, e) => `${h}Transfer-Encoding: gzip, chunked${e}`],
  ["Transfer-Encoding: chunked, chunked", (h, e) => `${h}Transfer-Encoding: chunked, chunked${e}`],
  [
    "two Transfer-Encoding lines",
    (h, e) => `${h}Transfer-Encoding: chunked${e}Transfer-Encoding: chunked${e}`,
  ],
  ["Transfer-Encoding: identity", (h, e) => `${h}Transfer-Encoding: identity${e}`],
  [
    "Transfer-Encoding in HTTP/1.0",
    (h, e) => `${h.replace("HTTP/1.1", "HTTP/1.0")}Transfer-Encoding: chunked${e}`,
  ],
  ["Content-Lengths that disagree", (h, e) => `${h}Content-Length: 5${e}Content-Length: 6${e}`],
  ["a Content-Length list that disagrees", (h, e) => `${h}Content-Length: 5, 7${e}`],
  ["Content-Length: -1", (h, e) => `${h}Content-Length: -1${e}`],
  ["Content-Length: +5", (h, e) => `${h}Content-Length: +5${e}`],
  ["Content-Length: 0x10", (h, e) => `${h}Content-Length: 0x10${e}`],
  ["Content-Length: 5.0", (h, e) => `${h}Content-Length: 5.0${e}`],
  ["an empty Content-Length", (h, e) => `${h}Content-Length:${e}`],
  ["Content-Length beyond 2^53", (h, e) => `${h}Content-Length: 99999999999999999999${e}`],
  ["a space before the colon", (h, e) => `${h}Content-Length : 5${e}`],
  ["a field line without a colon", (h, e) => `${h}NoColonHere${e}`],
  ["a control character in a value", (h, e) => `${h}X-Bad: a\u0001b${e}`],
  ["a bare CR in the head", (h, e) => `${h}X-Bad: a\rb${e}`],
  ["a fold before any field", (h) => h.replace(/(HTTP\/1\.\d [^\r\n]*\r?\n)/, "$1 folded\r\n")],
  ["101 Switching Protocols", (h) => h.replace(/^HTTP\/1\.1 \d{3}/m, "HTTP/1.1 101")],
  ["HTTP/2.0", (h) => h.replace(/HTTP\/1\.1 (?=[2-5])/, "HTTP/2.0 ")],
  ["a status of two digits", (h) => h.replace(/HTTP\/1\.1 [2-5]\d\d/, "HTTP/1.1 20")],
];

const chunkFaults: Array<[string, (chunk: Buffer) => string]> = [
  ["a size that is not hex", () => "zz"],
  ["an empty size", () => ""],
  ["a negative size", (c) => `-${c.length.toString(16)}`],
  ["a size with 0x", (c) => `0x${c.length.toString(16)}`],
  ["a size after a space", (c) => ` ${c.length.toString(16)}`],
  ["two sizes", (c) => `${c.length.toString(16)} 1`],
  ["a size of 15 hex digits", () => "fffffffffffffff"],
  ["a control character in an extension", (c) => `${c.length.toString(16)};a=\u0002`],
];

/**
 * An invalid response: a fault in the head (no body byte may come out), or in the chunked body
 * at a random chunk (the chunks before it may come out, never a byte of the fault or after it).
 */
export const invalidResponses: fc.Arbitrary<InvalidCase> = fc.oneof(
  fc.tuple(parts, fc.nat(headFaults.length - 1)).map(([p, which]): InvalidCase => {
    const [fault, apply] = headFaults[which] as (typeof headFaults)[number];
    const eol = "\r\n";
    let head = `HTTP/1.1 ${p.status} OK${eol}${fieldLines(p.fields, eol)}`;
    head = apply(head, eol);
    return {
      bytes: Buffer.concat([Buffer.from(`${head}${eol}`), p.body]),
      fault,
      before: Buffer.alloc(0),
    };
  }),
  fc
    .tuple(parts, fc.nat(chunkFaults.length + 1), fc.nat())
    .filter(([p]) => p.body.length > 0)
    .map(([p, which, at]): InvalidCase => {
      const chunks = chunksOf(p.body, p.cuts);
      const bad = at % chunks.length;
      const pieces: Buffer[] = [
        Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
      ];
      chunks.slice(0, bad).forEach((chunk) => {
        pieces.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
      });
      const chunk = chunks[bad] as Buffer;
      let fault: string;
      let before = Buffer.concat(chunks.slice(0, bad));
      if (which < chunkFaults.length) {
        const [what, line] = chunkFaults[which] as (typeof chunkFaults)[number];
        fault = what;
        pieces.push(Buffer.from(`${line(chunk)}\r\n`), chunk, Buffer.from("\r\n0\r\n\r\n"));
      } else if (which === chunkFaults.length) {
        // The chunk's data runs on past its size: what follows the size is not a line end.
        fault = "chunk data longer than its size";
        pieces.push(
          Buffer.from(`${chunk.length.toString(16)}\r\n`),
          chunk,
          Buffer.from("X\r\n0\r\n\r\n"),
        );
        before = Buffer.concat(chunks.slice(0, bad + 1));
      } else {
        // The chunk is shorter than its size: its CRLF and the next size line are read as data,
        // then what follows is not a line end.
        fault = "a size larger than the chunk";
        pieces.push(
          Buffer.from(`${(chunk.length + 9).toString(16)}\r\n`),
          chunk,
          Buffer.from("\r\n0\r\n\r\nXXXXXXXXXXXX"),
        );
        before = Buffer.concat([...chunks.slice(0, bad + 1), Buffer.from("\r\n0\r\n\r\nXX")]);
      }
      return { bytes: Buffer.concat(pieces), fault, before };
    }),
);

/** Cuts `bytes` into slices of the given sizes, used in turn (a size over the length: one slice). */
export function sliced(bytes: Buffer, sizes: number[]): Buffer[] {
  const slices: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i += 1) {
    const size = Math.max(1, sizes[i % sizes.length] ?? bytes.length);
    slices.push(bytes.subarray(at, at + size));
    at += size;
  }
  return slices;
}

/** Slice sizes: single bytes, small pieces, or large ones. */
export const sliceSizes = fc.oneof(
  fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 20 }),
  fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 20 }),
  fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 5 }),
);
