/** `--header`: extra request headers, checked before any request is made. */
import { UsageError } from "../errors.js";

/** Parses `Name: value` headers; refuses malformed names and CR/LF injection. */
export function parseHeaders(values: string[] | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const raw of values ?? []) {
    const colon = raw.indexOf(":");
    const name = colon > 0 ? raw.slice(0, colon).trim() : "";
    const value = colon > 0 ? raw.slice(colon + 1).trim() : "";
    const validName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);
    if (!validName || /[\r\n\0]/.test(value)) {
      // The value may be a secret, and so may a malformed name (`Key=SECRET:…`): only a name
      // that is a valid header name is shown.
      throw new UsageError(
        "--header",
        `--header must be "Name: value", got a malformed header${validName ? ` named ${name}` : ""}`,
      );
    }
    headers[name.toLowerCase()] = value;
  }
  return headers;
}
