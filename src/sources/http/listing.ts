/**
 * Reading one page of a remote directory's index: one GET through the run's HTTP client (its
 * proxies, TLS settings, netrc, `--header` values and connection pool), redirects followed only
 * within the directory, the body read as it streams and never past `MAX_INDEX_BYTES`, and every
 * link handed on, classified. One attempt: retries are the caller's (the plan's) business.
 */
import { createHash, type Hash } from "node:crypto";
import { TextDecoder } from "node:util";
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";
import type { HttpClient } from "./client.js";
import { describeHttpError, httpStatusError } from "./errors.js";
import { discardBody } from "./headers.js";
import { classifyLink, type IndexLink } from "./index-links.js";
import { canonicalPath, isWithinDirectory, withinDirectory } from "./within.js";

/**
 * The largest index page read (16 MiB of body, about 100,000 entries of nginx's format): a
 * directory's plan is held in memory, and a server streaming an endless page must not fill it.
 */
export const MAX_INDEX_BYTES = 16 * 1024 * 1024;

const HTML_TYPES = new Set(["text/html", "application/xhtml+xml"]);

/**
 * GETs the index page `page` (its userinfo, if any, is sent as Basic credentials) of the
 * directory source `root` (no userinfo, query or fragment; path ending in `/`) and calls `onLink`
 * for every `<a href>` in it, classified against `root`. Resolves to the URL that answered.
 *
 * Rejects with a classified `SyncError`: `not_found` for 404/410; a retryable one for transient
 * failures (network, timeouts, 5xx, 429 with its `Retry-After`); `invalid_source` for a page that
 * is not HTML; `http_error` for a redirect that leaves the directory (to another origin or
 * scheme, or above `root`: it is not sent), a compressed or oversized body. `onLink` may throw to
 * stop the reading; its error is passed on as it is.
 *
 * `digest` sums up what the page lists wherever it is served from (see `ListingDigest`): two
 * folders with one digest are one folder reached twice, through a link loop or an alias.
 */
export async function readIndexPage(
  client: HttpClient,
  page: string,
  root: URL,
  signal: AbortSignal,
  onLink: (link: IndexLink) => void,
): Promise<{ url: URL; digest: string }> {
  const where = redactUrl(page);
  const guard = withinDirectory(root, where, "an index");
  let answered: { response: Awaited<ReturnType<HttpClient["get"]>>["response"]; url: URL };
  try {
    answered = await client.get(
      page,
      {
        "accept-encoding": "identity",
        accept: "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
      },
      signal,
      "GET",
      guard,
    );
  } catch (error) {
    throw describeHttpError(error, where, client.proxyFor(page));
  }
  const { response, url } = answered;
  const status = response.statusCode;
  if (status !== 200) {
    await discardBody(response);
    const viaProxy = client.proxyFor(url.href) !== undefined;
    const failure = httpStatusError(status, response.headers, where, client.now(), viaProxy);
    if (failure.code !== "not_found") throw failure;
    throw new SyncError("not_found", `${failure.message}: no directory index there`, { status });
  }
  const type = String(response.headers["content-type"] ?? "");
  const mediaType = type.split(";")[0]?.trim().toLowerCase() ?? "";
  if (!HTML_TYPES.has(mediaType)) {
    await discardBody(response);
    throw new SyncError(
      "invalid_source",
      `${where}: not a directory index (Content-Type ${JSON.stringify(type || "none")}, not text/html): a URL ending in / is read as an HTML listing; without the / it is one file`,
      { status },
    );
  }
  const encoding = String(response.headers["content-encoding"] ?? "identity").toLowerCase();
  if (encoding !== "identity") {
    await discardBody(response);
    throw new SyncError(
      "http_error",
      `${where}: the index came with Content-Encoding ${encoding} although identity was asked for`,
      { status },
    );
  }

  let base: { declared: string | undefined; url: URL } = { declared: undefined, url };
  const digest = new ListingDigest(url);
  let stopped: { error: unknown } | undefined;
  const { IndexLinkReader } = await import("./index-reader.js");
  const reader = new IndexLinkReader({
    link: (href, declared) => {
      if (declared !== base.declared) base = { declared, url: baseOf(url, root, declared) };
      digest.link(href, base.url);
      try {
        onLink(classifyLink(href, base.url, root));
      } catch (error) {
        stopped = { error };
        throw error;
      }
    },
    text: (text) => digest.text(text),
  });
  const decoder = decoderFor(type);
  let received = 0;
  try {
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received > MAX_INDEX_BYTES) {
        throw new SyncError(
          "http_error",
          `${where}: the index is larger than ${MAX_INDEX_BYTES / 1024 / 1024} MiB; sync its folders one by one`,
          { status },
        );
      }
      reader.write(decoder.decode(chunk as Buffer, { stream: true }));
    }
    reader.write(decoder.decode());
    reader.end();
  } catch (error) {
    response.body.destroy();
    if (stopped) throw stopped.error;
    throw describeHttpError(error, where, client.proxyFor(url.href));
  }
  return { url, digest: digest.hex() };
}

/**
 * A digest of what an index page lists, the same wherever the folder is served from: each link
 * below the page's folder, as a path relative to it, and the text that follows it (names, sizes,
 * dates), whitespace left out (chunk boundaries fall differently on every page). Titles,
 * breadcrumbs and parent links, which name the folder's own path, are not in it.
 */
class ListingDigest {
  readonly #hash: Hash = createHash("sha256");
  readonly #folder: URL;
  #counting = false;

  constructor(page: URL) {
    this.#folder = new URL(page.href);
    this.#folder.pathname = page.pathname.slice(0, page.pathname.lastIndexOf("/") + 1);
  }

  link(href: string, base: URL): void {
    let url: URL;
    try {
      url = new URL(href, base);
    } catch {
      this.#counting = false;
      return;
    }
    const folder = canonicalPath(this.#folder.pathname);
    const path = canonicalPath(url.pathname);
    this.#counting =
      url.origin === this.#folder.origin && path.startsWith(folder) && path !== folder;
    if (this.#counting) this.#hash.update(`\0${path.slice(folder.length)}${url.search}\0`);
  }

  text(text: string): void {
    if (this.#counting) this.#hash.update(text.replace(/\s+/g, ""));
  }

  hex(): string {
    return this.#hash.digest("hex");
  }
}

/**
 * The URL links are resolved against: the page's, or its `<base href>` when that lies within
 * the directory (same origin, below or at `root`). A base pointing elsewhere is ignored rather
 * than obeyed: it would only make links leave the directory.
 */
function baseOf(page: URL, root: URL, declared?: string): URL {
  if (declared === undefined) return page;
  try {
    const base = new URL(declared, page);
    if (isWithinDirectory(base, root)) return base;
  } catch {
    // A malformed base is no base.
  }
  return page;
}

/** A decoder for the page's declared charset; UTF-8 when none is declared or it is unknown. */
function decoderFor(contentType: string): TextDecoder {
  const charset = /;\s*charset="?([^";\s]+)"?/i.exec(contentType)?.[1];
  try {
    return new TextDecoder(charset ?? "utf-8");
  } catch {
    return new TextDecoder("utf-8");
  }
}
