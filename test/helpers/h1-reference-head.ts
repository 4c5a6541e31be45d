/**
 * The response-head reader as it was before it was written by hand (a split and regular
 * expressions per line): kept only as the reference the hand-written `parseHead` is compared
 * with, head by head, in test/sources/h1-head.test.ts. Not used by the tool.
 */
import { invalidResponse } from "../../src/sources/http/h1/errors.js";

import type { ResponseHead, ResponseHeaders } from "../../src/sources/http/h1/head.js";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: (.*))?$/;

/** Whether `text` holds a control character other than HTAB (not allowed in a field value). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** Parses one head (`text`: up to and with its empty line); 1xx heads too. */
export function referenceParseHead(text: string, headRequest: boolean): ResponseHead {
  const lines = text.split("\n");
  const status = STATUS_LINE.exec(withoutCr(lines[0] as string));
  if (!status) throw invalidResponse("not an HTTP/1.0 or 1.1 status line");
  const code = Number(status[2]);
  if (code === 101) throw invalidResponse("101 Switching Protocols was not asked for");
  const headers: ResponseHeaders = {};
  let last: string | undefined;
  // The head ends with an empty line: the last two elements are empty.
  for (let i = 1; i < lines.length - 2; i += 1) {
    const line = withoutCr(lines[i] as string);
    if (line.startsWith(" ") || line.startsWith("\t")) {
      // obs-fold: a continuation line, read as a space (RFC 9112 §5.2).
      if (last === undefined) throw invalidResponse("a continuation line before any field");
      appendFolded(headers, last, stripOws(line));
      continue;
    }
    last = addField(headers, line);
  }
  const head = framingOf(code, status[1] === "1" ? 1 : 0, headers, headRequest);
  head.statusText = status[3] ?? "";
  return head;

  function withoutCr(line: string): string {
    const bare = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (bare.includes("\r")) throw invalidResponse("a bare CR in the head");
    return bare;
  }
}

function stripOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** Adds `name: value` to `headers`; returns the name. Throws on a malformed field line. */
function addField(headers: ResponseHeaders, line: string): string {
  const colon = line.indexOf(":");
  const name = colon > 0 ? line.slice(0, colon) : "";
  if (!TOKEN.test(name))
    throw invalidResponse(`a malformed field line ${JSON.stringify(line.slice(0, 40))}`);
  const value = stripOws(line.slice(colon + 1));
  if (hasControl(value)) throw invalidResponse(`a control character in field ${name}`);
  const key = name.toLowerCase();
  const existing = headers[key];
  if (existing === undefined) headers[key] = value;
  else if (typeof existing === "string") headers[key] = [existing, value];
  else existing.push(value);
  return key;
}

function appendFolded(headers: ResponseHeaders, name: string, more: string): void {
  if (hasControl(more)) throw invalidResponse(`a control character in field ${name}`);
  const existing = headers[name];
  if (typeof existing === "string") headers[name] = existing === "" ? more : `${existing} ${more}`;
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
  headers: ResponseHeaders,
  headRequest: boolean,
): ResponseHead {
  const connection = listOf(headers.connection).map((token) => token.toLowerCase());
  const persistent = minor === 1 && !connection.includes("close");
  const base = { status, statusText: "", minor, headers, length: 0 };
  if (headRequest || status < 200 || status === 204 || status === 304)
    return { ...base, framing: "none", reusable: persistent };
  const te = headers["transfer-encoding"];
  const cl = headers["content-length"];
  if (te !== undefined) {
    if (cl !== undefined) throw invalidResponse("both Transfer-Encoding and Content-Length");
    if (minor === 0) throw invalidResponse("Transfer-Encoding in an HTTP/1.0 response");
    const codings = listOf(te);
    if (codings.length !== 1 || codings[0]?.toLowerCase() !== "chunked")
      throw invalidResponse(`Transfer-Encoding ${JSON.stringify(listOf(te).join(", "))}`);
    return { ...base, framing: "chunked", reusable: persistent };
  }
  if (cl !== undefined) {
    const values = listOf(cl);
    const length = Number(values[0]);
    // Repeated values are allowed only when they are the same number (RFC 9110 §8.6).
    if (!values.every((value) => /^\d{1,15}$/.test(value) && Number(value) === length))
      throw invalidResponse(`Content-Length ${JSON.stringify(values.join(", "))}`);
    return { ...base, framing: "length", length, reusable: persistent };
  }
  return { ...base, framing: "close", reusable: false };
}
