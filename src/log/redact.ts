/**
 * Keeps secrets out of logs, results and error messages: URL userinfo, credential-like query
 * parameters, and any value registered as secret (header values).
 */

export const REDACTED = "***";

/**
 * Query parameter names that carry credentials: anything that names a token, an auth value, a
 * key, a secret, a signature, a password, a JWT, a session or a credential (`private_token`,
 * `auth_token`, `jwt`, `api_key` …), and the cloud providers' signed-URL parameters. Broad on
 * purpose: hiding a harmless value costs less than printing a secret.
 */
const CREDENTIAL_PARAMETER =
  /token|auth|key|secret|sig|password|passwd|pwd|jwt|session|credential|^x-amz-|^x-goog-/i;

/** Whether a query parameter name looks like it carries a credential. */
export function isCredentialParameter(name: string): boolean {
  return CREDENTIAL_PARAMETER.test(name);
}

/**
 * The URL with its userinfo and credential-like query values replaced by `***`. Text that does
 * not parse as a URL is redacted by pattern, so even a malformed URL quoted in an error message
 * keeps its secrets; a plain local path comes back unchanged.
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return redactByPattern(text);
  }
  return redactParsedUrl(url, text);
}

/**
 * `redactUrl` for a URL already parsed: `text` is the URL written out (what it was parsed from,
 * or its `href`), returned as it is for a file URL with nothing to hide. The planner parses every
 * source once and redacts it from that parse: a second parse per pair cost ~2 µs of a no-op
 * pair's ~90.
 */
export function redactParsedUrl(url: URL, text: string): string {
  if (url.protocol === "file:" && !url.username && !url.password) return text;
  const userinfo = url.username || url.password ? `${REDACTED}@` : "";
  const query = redactQuery(url.search);
  // A fragment is never sent to a server, and OAuth puts tokens there (`#access_token=…`).
  const fragment = url.hash.length > 1 ? `#${REDACTED}` : url.hash;
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}${fragment}`;
}

/**
 * Userinfo and credential-like `name=value` pairs, found without parsing. In text that starts
 * like a URL but does not parse (a password holding `#`, `?`, `/` or a space), everything between
 * the scheme and the last `@` is taken for userinfo.
 */
function redactByPattern(text: string): string {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)([^\s]*)@/.exec(text);
  const unparsed = scheme ? `${scheme[1]}${REDACTED}@${text.slice(scheme[0].length)}` : text;
  return unparsed
    .replace(/\/\/[^/?#@\s]*@/g, `//${REDACTED}@`)
    .replace(/([?&;])([^=&#\s]+)=([^&#\s]*)/g, (whole, sep: string, name: string) =>
      isCredentialParameter(safeDecode(name)) ? `${sep}${name}=${REDACTED}` : whole,
    )
    .replace(/^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^#\s]*)#\S+/, `$1#${REDACTED}`);
}

function redactQuery(search: string): string {
  if (search.length <= 1) return search;
  const parts = search
    .slice(1)
    .split("&")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, " "));
      } catch {
        // keep the raw name
      }
      return isCredentialParameter(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    });
  return `?${parts.join("&")}`;
}

/** The secrets a URL carries (userinfo, credential-like query values), raw and decoded. */
export function secretsOfUrl(text: string): string[] {
  // Userinfo needs an `@`, a query a `?`, a fragment a `#`: without any, nothing to parse (the
  // CLI asks this of every listed source before the first request).
  if (!/[@?#]/.test(text)) return [];
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return [];
  }
  const secrets = [url.username, url.password, url.hash.slice(1)];
  for (const [name, value] of url.searchParams) {
    if (isCredentialParameter(name)) secrets.push(value);
  }
  for (const pair of url.search.slice(1).split("&")) {
    const eq = pair.indexOf("=");
    if (eq >= 0 && secrets.includes(safeDecode(pair.slice(eq + 1))))
      secrets.push(pair.slice(eq + 1));
  }
  return withDecoded(secrets);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

function withDecoded(values: string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    out.add(value);
    out.add(safeDecode(value));
  }
  return [...out];
}

/**
 * Secrets to scrub from every output line, as a last line of defence behind structural
 * redaction: if a library puts a header value or URL into an error message, it still never
 * reaches the user's logs.
 */
/** A JSON string literal, quotes and escapes included. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

export class Redactor {
  readonly #secrets: string[] = [];

  /** Registers values that must never be printed. Very short values are ignored: scrubbing "a" would mangle every line. */
  add(...values: string[]): void {
    for (const value of values) {
      if (value.length >= 3 && !this.#secrets.includes(value)) this.#secrets.push(value);
    }
    // Longest first, so a secret that contains another is replaced whole.
    this.#secrets.sort((a, b) => b.length - a.length);
  }

  /**
   * JSON text (a document, or a run of whole values from one) with every registered secret
   * replaced inside its string literals only: numbers, `true`/`false`/`null` and the punctuation
   * are left alone, so the text stays valid JSON even when a secret is made of digits or a word
   * such as `null`. A secret can only leak through a string, so nothing is lost by it.
   */
  scrubJson(text: string): string {
    if (this.#secrets.length === 0) return text;
    return text.replace(JSON_STRING, (literal) => {
      // Scrubbed as the string it stands for, then written back: replacing inside the escaped
      // form could cut an escape in two (`\n` + a secret starting with `n`).
      let value: string;
      try {
        value = JSON.parse(literal) as string;
      } catch {
        return this.scrub(literal); // not one literal after all: never let a secret through
      }
      const scrubbed = this.#scrubRaw(value);
      return scrubbed === value ? literal : JSON.stringify(scrubbed);
    });
  }

  #scrubRaw(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** The text with every registered secret, raw or as it appears inside a JSON string, replaced. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) {
      out = out.split(secret).join(REDACTED);
      const jsonForm = JSON.stringify(secret).slice(1, -1);
      if (jsonForm !== secret) out = out.split(jsonForm).join(REDACTED);
    }
    return out;
  }
}
