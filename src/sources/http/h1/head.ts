/**
 * A response head, from its status line to the empty line: the status, the fields (names
 * lower-cased, repeats as arrays, obs-folded lines joined) and how the body is framed (RFC 9112
 * §6.3). Anything malformed, and any framing that could be read two ways, is refused with
 * `H1_INVALID_RESPONSE` (see parser.ts for what that protects).
 */
import { invalidResponse } from "./errors.js";

export type ResponseHeaders = Record<string, string | string[]>;

export interface ResponseHead {
  status: number;
  statusText: string;
  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Lower-case names; a repeated field is an array of its values, in order. */
  headers: ResponseHeaders;
  framing: "none" | "length" | "chunked" | "close";
  /** Body bytes, for `length`. */
  length: number;
  /** The server lets the connection carry another request after this answer. */
  reusable: boolean;
}

/**
 * Field-name characters (RFC 9110 `tchar`), by character code. The head is read by hand, with
 * tables and `indexOf` instead of a split and regular expressions per line: 10,000 conditional
 * GETs through `HttpSource` took 340 ms instead of 385 (docs/performance.md, 2026-12-07).
 */
const TCHAR = new Uint8Array(128);
for (const char of "!#$%&'*+-.^_`|~") TCHAR[char.charCodeAt(0)] = 1;
for (let code = 48; code <= 57; code += 1) TCHAR[code] = 1;
for (let code = 65; code <= 90; code += 1) TCHAR[code] = 1;
for (let code = 97; code <= 122; code += 1) TCHAR[code] = 1;

/** Whether `text` is a field name (RFC 9110 `token`): the response's and the request's. */
export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 128 || TCHAR[code] === 0) return false;
  }
  return true;
}

/** Whether `text` holds a control character other than HTAB (not allowed in a field value). */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Parses one head (`text`: up to and with its empty line); 1xx heads too. */
export function parseHead(text: string, headRequest: boolean): ResponseHead {
  const firstEnd = text.indexOf("\n");
  const status = statusLine(withoutCr(firstEnd < 0 ? text : text.slice(0, firstEnd)));
  if (!status) throw invalidResponse("not an HTTP/1.0 or 1.1 status line");
  if (status.code === 101) throw invalidResponse("101 Switching Protocols was not asked for");
  const headers: ResponseHeaders = {};
  let last: string | undefined;
  // Field lines up to the empty line that ends the head (the text ends with it).
  for (let at = firstEnd + 1; firstEnd >= 0 && at < text.length; ) {
    const lineEnd = text.indexOf("\n", at);
    const line = withoutCr(text.slice(at, lineEnd < 0 ? text.length : lineEnd));
    if (line === "") break;
    at = lineEnd < 0 ? text.length : lineEnd + 1;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // obs-fold: a continuation line, read as a space (RFC 9112 §5.2).
      if (last === undefined) throw invalidResponse("a continuation line before any field");
      appendFolded(headers, last, stripOws(line));
      continue;
    }
    last = addField(headers, line);
  }
  return framingOf(status.code, status.minor, status.text, headers, headRequest);

  function withoutCr(line: string): string {
    const bare = line.charCodeAt(line.length - 1) === 0x0d ? line.slice(0, -1) : line;
    if (bare.includes("\r")) throw invalidResponse("a bare CR in the head");
    return bare;
  }
}

/**
 * `HTTP/1.x NNN[ reason]`: the minor version (0 or 1), a status of three digits from 100, and
 * the reason phrase (no line terminator in it, U+2028 and U+2029 included); `undefined` else.
 */
function statusLine(line: string): { minor: number; code: number; text: string } | undefined {
  if (line.length < 12 || !line.startsWith("HTTP/1.") || line.charCodeAt(8) !== 0x20)
    return undefined;
  const minor = line.charCodeAt(7) - 48;
  if (minor !== 0 && minor !== 1) return undefined;
  const d0 = line.charCodeAt(9) - 48;
  const d1 = line.charCodeAt(10) - 48;
  const d2 = line.charCodeAt(11) - 48;
  if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return undefined;
  let text = "";
  if (line.length > 12) {
    if (line.charCodeAt(12) !== 0x20) return undefined;
    text = line.slice(13);
    if (text.includes("\u2028") || text.includes("\u2029")) return undefined;
  }
  return { minor, code: d0 * 100 + d1 * 10 + d2, text };
}

/** `value` without the spaces and tabs around it. */
function stripOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end) {
    const code = value.charCodeAt(start);
    if (code !== 0x20 && code !== 0x09) break;
    start += 1;
  }
  while (end > start) {
    const code = value.charCodeAt(end - 1);
    if (code !== 0x20 && code !== 0x09) break;
    end -= 1;
  }
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Adds `name: value` to `headers`; returns the name. Throws on a malformed field line. */
export function addField(headers: ResponseHeaders, line: string): string {
  const colon = line.indexOf(":");
  const name = colon > 0 ? line.slice(0, colon) : "";
  if (!isToken(name))
    throw invalidResponse(`a malformed field line ${JSON.stringify(line.slice(0, 40))}`);
  const value = stripOws(line.slice(colon + 1));
  if (hasControl(value)) throw invalidResponse(`a control character in field ${name}`);
  const key = name.toLowerCase();
  // Own fields only: a field named `constructor` or `__proto__` is a field like any other.
  const existing = Object.hasOwn(headers, key) ? headers[key] : undefined;
  if (existing === undefined) setField(headers, key, value);
  else if (typeof existing === "string") setField(headers, key, [existing, value]);
  else existing.push(value);
  return key;
}

/** `headers[key] = value`, as an own property even for `__proto__`. */
function setField(headers: ResponseHeaders, key: string, value: string | string[]): void {
  if (key === "__proto__")
    Object.defineProperty(headers, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  else headers[key] = value;
}

function appendFolded(headers: ResponseHeaders, name: string, more: string): void {
  if (hasControl(more)) throw invalidResponse(`a control character in field ${name}`);
  const existing = Object.hasOwn(headers, name) ? headers[name] : undefined;
  if (typeof existing === "string")
    setField(headers, name, existing === "" ? more : `${existing} ${more}`);
  else if (existing) existing[existing.length - 1] = `${existing[existing.length - 1]} ${more}`;
}

/** The values of a list field, its repeated lines joined. */
function listOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = typeof value === "string" ? value : value.join(",");
  return text.split(",").map(stripOws);
}

/** How the body is delimited, and whether the connection may be reused (RFC 9112 §6.3, §9.3). */
function framingOf(
  status: number,
  minor: number,
  statusText: string,
  headers: ResponseHeaders,
  headRequest: boolean,
): ResponseHead {
  const persistent =
    minor === 1 &&
    (headers.connection === undefined ||
      !listOf(headers.connection).some((token) => token.toLowerCase() === "close"));
  const head = (framing: ResponseHead["framing"], length: number, reusable: boolean) => ({
    status,
    statusText,
    minor,
    headers,
    framing,
    length,
    reusable,
  });
  if (headRequest || status < 200 || status === 204 || status === 304)
    return head("none", 0, persistent);
  const te = headers["transfer-encoding"];
  const cl = headers["content-length"];
  if (te !== undefined) {
    if (cl !== undefined) throw invalidResponse("both Transfer-Encoding and Content-Length");
    if (minor === 0) throw invalidResponse("Transfer-Encoding in an HTTP/1.0 response");
    const codings = listOf(te);
    if (codings.length !== 1 || codings[0]?.toLowerCase() !== "chunked")
      throw invalidResponse(`Transfer-Encoding ${JSON.stringify(listOf(te).join(", "))}`);
    return head("chunked", 0, persistent);
  }
  if (cl !== undefined) {
    const values = listOf(cl);
    const length = Number(values[0]);
    // Repeated values are allowed only when they are the same number (RFC 9110 §8.6).
    if (!values.every((value) => /^\d{1,15}$/.test(value) && Number(value) === length))
      throw invalidResponse(`Content-Length ${JSON.stringify(values.join(", "))}`);
    return head("length", length, persistent);
  }
  return head("close", 0, false);
}
