/**
 * An incremental HTTP/1.0 and 1.1 response parser, fed the bytes of one connection as they are
 * read, in pieces of any size. Interim 1xx answers are skipped; the body is delimited as RFC 9112
 * §6.3 says (no body for HEAD, 1xx, 204 and 304; chunked; Content-Length; else until the
 * connection closes) and handed on as views into the bytes given, never copied. Framing that is
 * invalid or ambiguous — Transfer-Encoding with Content-Length, a coding other than `chunked`,
 * Transfer-Encoding in an HTTP/1.0 answer, Content-Lengths that disagree, a bad chunk size, chunk
 * data longer than its size — throws before a byte of that body is handed on as data. Bytes after
 * the end of a response are left unparsed: the connection decides (it is not reused); empty
 * lines before a head are skipped, and do not count as the response having begun. The head
 * itself (status line, fields, framing) is read by head.ts.
 */
import { H1Error, invalidResponse } from "./errors.js";
import { addField, hasControl, parseHead, type ResponseHead } from "./head.js";

export interface ParserEvents {
  /** The final (non-1xx) head. */
  head(head: ResponseHead): void;
  /** Body bytes: a view into the bytes given to `execute`, valid as long as they are. */
  body(chunk: Buffer): void;
  /** The response is complete. */
  complete(): void;
}

/** The longest chunk-size line (with its extensions) accepted. */
const MAX_CHUNK_LINE = 8 * 1024;
/** Hex digits of the largest chunk size accepted (13: up to 2^52 - 1 bytes). */
const MAX_SIZE_DIGITS = 13;

const HEAD = 0;
const LENGTH = 1;
const CLOSE = 2;
const CHUNK_SIZE = 3;
const CHUNK_DATA = 4;
const CHUNK_END = 5;
const TRAILERS = 6;
const DONE = 7;
const FAILED = 8;

/** A chunk-size line: the size, then optional extensions (checked for controls apart). */
const CHUNK_SIZE_LINE = /^([0-9a-fA-F]+)[ \t]*(?:;.*)?$/;

export class ResponseParser {
  readonly #events: ParserEvents;
  readonly #headRequest: boolean;
  readonly #maxHeaderBytes: number;
  #state = HEAD;
  /** Head bytes gathered so far, when a head spans reads. */
  #head: Buffer | undefined;
  /** Body or chunk bytes still to come. */
  #remaining = 0;
  /** A line (chunk size, trailer) gathered so far, without its LF. */
  #line = "";
  #trailerBytes = 0;
  /** A CR after chunk data was seen (its LF must follow). */
  #sawCr = false;
  #sawBytes = false;
  /** Line ends skipped before the head. */
  #emptyLineBytes = 0;

  constructor(events: ParserEvents, options: { headRequest: boolean; maxHeaderBytes: number }) {
    this.#events = events;
    this.#headRequest = options.headRequest;
    this.#maxHeaderBytes = options.maxHeaderBytes;
  }

  /** The response is complete. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** No byte of the response has arrived yet. */
  get untouched(): boolean {
    return !this.#sawBytes;
  }

  /** Stops the parser: later bytes are ignored (the connection is going away). */
  stop(): void {
    if (this.#state !== DONE) this.#state = FAILED;
  }

  /**
   * Parses `data[start, end)`. Returns where it stopped: `end`, or the first byte after the
   * response once it is complete. Throws an `H1Error` on anything invalid (and stops).
   */
  execute(data: Buffer, start = 0, end = data.length): number {
    let pos = start;
    if (end > start && !this.#sawBytes) this.#sawBytes = !this.#onlyEmptyLines(data, start, end);
    try {
      while (pos < end) {
        const state = this.#state;
        if (state === LENGTH || state === CHUNK_DATA) {
          const n = Math.min(this.#remaining, end - pos);
          this.#remaining -= n;
          const chunk = data.subarray(pos, pos + n);
          pos += n;
          this.#events.body(chunk);
          if (this.#state !== state) break; // stopped by the handler
          if (this.#remaining > 0) continue;
          if (state === CHUNK_DATA) {
            this.#state = CHUNK_END;
          } else {
            this.#state = DONE;
            this.#events.complete();
          }
        } else if (state === CLOSE) {
          this.#events.body(data.subarray(pos, end));
          pos = end;
        } else if (state === HEAD) {
          pos = this.#readHead(data, pos, end);
        } else if (state === CHUNK_END) {
          // Chunk data ends with CRLF (or a bare LF); anything else: the data was longer than
          // its size said, caught at its first byte.
          const byte = data[pos];
          if (byte === 10) {
            this.#state = CHUNK_SIZE;
            this.#sawCr = false;
          } else if (byte === 13 && !this.#sawCr) {
            this.#sawCr = true;
          } else {
            throw invalidResponse("chunk data longer than its size");
          }
          pos += 1;
        } else if (state === CHUNK_SIZE || state === TRAILERS) {
          pos = this.#readLine(data, pos, end);
        } else {
          break; // DONE or FAILED
        }
      }
    } catch (error) {
      this.#state = FAILED;
      throw error;
    }
    return pos;
  }

  /** The connection ended: completes a body delimited by the close, else throws. */
  eof(): void {
    const state = this.#state;
    if (state === DONE || state === FAILED) return;
    if (state === CLOSE) {
      this.#state = DONE;
      this.#events.complete();
      return;
    }
    this.#state = FAILED;
    if (state === HEAD) {
      throw new H1Error("H1_SOCKET", "the connection closed before the response head", {
        beforeResponse: !this.#sawBytes,
      });
    }
    if (state === LENGTH) {
      throw new H1Error(
        "H1_SOCKET",
        `the connection closed with ${this.#remaining} body bytes still to come`,
      );
    }
    throw new H1Error("H1_SOCKET", "the connection closed in the middle of a chunked body");
  }

  /** Whether `data[start, end)` is nothing but line ends before a head (see `#readHead`). */
  #onlyEmptyLines(data: Buffer, start: number, end: number): boolean {
    if (this.#state !== HEAD || this.#head !== undefined) return false;
    for (let at = start; at < end; at += 1) if (data[at] !== 13 && data[at] !== 10) return false;
    return true;
  }

  #readHead(data: Buffer, pos: number, end: number): number {
    if (this.#head === undefined) {
      // Empty lines before a status line are skipped, as undici (llhttp) and curl do (RFC 9112
      // §2.2 asks the same of servers reading requests): a server that ends a body with a stray CRLF, a CGI script's last
      // newline, sends it after the body's last byte, onto the connection's next answer. Bounded
      // like a head.
      const from = pos;
      while (pos < end && (data[pos] === 13 || data[pos] === 10)) pos += 1;
      this.#emptyLineBytes += pos - from;
      if (this.#emptyLineBytes > this.#maxHeaderBytes) throw overflow(this.#maxHeaderBytes);
      if (pos === end) return end;
    }
    const before = this.#head?.length ?? 0;
    // Never gather more than the limit allows (plus the terminator's bytes).
    const take = Math.min(end - pos, this.#maxHeaderBytes - before + 4);
    const piece = data.subarray(pos, pos + take);
    const bytes = this.#head ? Buffer.concat([this.#head, piece]) : piece;
    const headEnd = endOfHead(bytes, Math.max(0, before - 3));
    if (headEnd < 0) {
      if (bytes.length > this.#maxHeaderBytes) throw overflow(this.#maxHeaderBytes);
      this.#head = Buffer.from(bytes); // a copy: `data` may be reused once this call returns
      return pos + take;
    }
    if (headEnd > this.#maxHeaderBytes) throw overflow(this.#maxHeaderBytes);
    this.#head = undefined;
    const head = parseHead(bytes.toString("utf8", 0, headEnd), this.#headRequest);
    const next = pos + (headEnd - before);
    if (head.status < 200) return next; // an interim answer: the real one follows
    this.#events.head(head);
    if (this.#state !== HEAD) return next; // stopped by the handler
    if (head.framing === "none" || (head.framing === "length" && head.length === 0)) {
      this.#state = DONE;
      this.#events.complete();
    } else if (head.framing === "length") {
      this.#state = LENGTH;
      this.#remaining = head.length;
    } else {
      this.#state = head.framing === "chunked" ? CHUNK_SIZE : CLOSE;
    }
    return next;
  }

  #readLine(data: Buffer, pos: number, end: number): number {
    const lf = data.indexOf(10, pos);
    const stop = lf < 0 || lf >= end ? end : lf;
    const limit = this.#state === TRAILERS ? this.#maxHeaderBytes : MAX_CHUNK_LINE;
    if (this.#line.length + (stop - pos) > limit) {
      if (this.#state === TRAILERS) throw overflow(limit);
      throw invalidResponse("a chunk-size line too long");
    }
    this.#line += data.toString("latin1", pos, stop);
    if (stop === end) return end;
    const line = this.#line.endsWith("\r") ? this.#line.slice(0, -1) : this.#line;
    this.#line = "";
    if (line.includes("\r")) throw invalidResponse("a bare CR in a chunked body");
    const state = this.#state;
    if (state === CHUNK_SIZE) {
      const match = hasControl(line) ? null : CHUNK_SIZE_LINE.exec(line);
      const digits = match?.[1]?.replace(/^0+(?=.)/, "");
      if (!digits || digits.length > MAX_SIZE_DIGITS)
        throw invalidResponse(`a bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
      const size = Number.parseInt(digits, 16);
      if (size === 0) {
        this.#state = TRAILERS;
      } else {
        this.#state = CHUNK_DATA;
        this.#remaining = size;
      }
    } else if (line === "") {
      this.#state = DONE;
      this.#events.complete();
    } else {
      // A trailer field: checked as a field, then dropped (nothing here reads trailers).
      this.#trailerBytes += line.length + 2;
      if (this.#trailerBytes > this.#maxHeaderBytes) throw overflow(this.#maxHeaderBytes);
      addField({}, line);
    }
    return lf + 1;
  }
}

/** The index just past the empty line that ends a head (CRLF or bare LF endings), or -1. */
function endOfHead(bytes: Buffer, from: number): number {
  let at = from;
  for (;;) {
    const lf = bytes.indexOf(10, at);
    if (lf < 0) return -1;
    if (bytes[lf + 1] === 10) return lf + 2;
    if (bytes[lf + 1] === 13 && bytes[lf + 2] === 10) return lf + 3;
    at = lf + 1;
  }
}

function overflow(limit: number): H1Error {
  return new H1Error("H1_HEADERS_OVERFLOW", `response headers larger than ${limit} bytes`);
}
