/** The head of a GET or HEAD request (no body, ever), checked so that no header can add a line. */
import { H1Error } from "./errors.js";
import { hasControl, isToken } from "./head.js";

/**
 * `METHOD path HTTP/1.1`, `host` (the URL's, unless `headers` names one), then `headers` as
 * given (names as they are: HTTP field names are case-insensitive).
 */
export function requestHead(
  method: "GET" | "HEAD",
  url: URL,
  headers: Record<string, string>,
): string {
  const target = `${url.pathname || "/"}${url.search}`;
  if (!target.startsWith("/") || /\s/.test(target) || hasControl(target))
    throw new H1Error("H1_INVALID_ARG", `a request target that cannot be sent: ${url.pathname}`);
  let fields = "";
  let host = `host: ${url.host}\r\n`;
  for (const name in headers) {
    const value = headers[name] as string;
    if (!isToken(name)) throw new H1Error("H1_INVALID_ARG", `an invalid header name ${name}`);
    // A field value may hold no CR, LF or NUL (nor other controls but HTAB).
    if (hasControl(value))
      throw new H1Error("H1_INVALID_ARG", `an invalid character in header ${name}`);
    if (name.length === 4 && name.toLowerCase() === "host") host = "";
    fields += `${name}: ${value}\r\n`;
  }
  // Host first, as RFC 9110 §7.2 asks.
  return `${method} ${target} HTTP/1.1\r\n${host}${fields}\r\n`;
}
