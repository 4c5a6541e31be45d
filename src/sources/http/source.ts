/** One http(s) URL as a `Source`: conditional and ranged GETs, and every failure classified. */
import { SyncError } from "../../errors.js";
import { redactUrl } from "../../log/redact.js";
import { originOf } from "../location.js";
import type {
  OpenRequest,
  OpenResult,
  RangeAnswer,
  RangeRequest,
  Source,
  Validators,
} from "../source.js";
import type { HttpClient, HttpResponse } from "./client.js";
import { describeHttpError, httpStatusError } from "./errors.js";
import {
  conditionalHeaders,
  discardBody,
  numberHeader,
  parseContentRange,
  type ResponseHeaders,
  statedDigests,
  validatorsOf,
} from "./headers.js";
import { withinDirectory } from "./within.js";

export class HttpSource implements Source {
  readonly #url: string;
  readonly #client: HttpClient;
  #servedBy: string | undefined;
  /** The URL of the last request's last hop: after a redirect, the one that answered (or failed). */
  #lastUrl: string | undefined;
  /** For a file of a remote directory: a redirect must stay within it (see `within.ts`). */
  readonly #guard: ((url: URL) => void) | undefined;
  readonly #hop = (url: URL) => {
    // Checked before the hop is recorded or sent: a refused target is never asked anything.
    this.#guard?.(url);
    this.#servedBy = originOf(url);
    this.#lastUrl = url.href;
  };

  servedBy(): string | undefined {
    return this.#servedBy;
  }

  /** `within`: the URL of the remote directory this file was listed in, if it was. */
  constructor(url: string, client: HttpClient, within?: string) {
    this.#url = url;
    this.#client = client;
    this.#guard =
      within === undefined
        ? undefined
        : withinDirectory(new URL(within), redactUrl(url), "a file of a remote directory");
  }

  async check(
    unchangedIf: Validators | undefined,
    signal: AbortSignal,
  ): Promise<"unchanged" | "changed"> {
    let response: HttpResponse;
    try {
      ({ response } = await this.#client.get(
        this.#url,
        conditionalHeaders(unchangedIf),
        signal,
        "HEAD",
        this.#hop,
      ));
    } catch (error) {
      throw this.describeError(error);
    }
    await discardBody(response);
    if (response.statusCode === 405 || response.statusCode === 501 || response.statusCode === 403) {
      // A server that does not take HEAD (some object stores, some apps), or a URL signed for GET
      // alone (a presigned S3 URL answers HEAD 403): asked as a sync asks, with a GET, of one
      // byte. A dry run said 'HTTP 405' or 'HTTP 403' where the sync itself succeeds.
      response = await this.#get(
        { ...conditionalHeaders(unchangedIf), range: "bytes=0-0" },
        signal,
      );
      await discardBody(response);
      // 416: an empty file has no byte 0; the sync's own GET gets it whole.
      if (response.statusCode === 416) return "changed";
    }
    if (response.statusCode === 304 && unchangedIf) return "unchanged";
    if (response.statusCode >= 200 && response.statusCode < 300) return "changed";
    throw this.#statusError(response.statusCode, response.headers);
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    const unchanged = request.unchangedIf;
    const headers = conditionalHeaders(unchanged);
    // If-Range takes a strong ETag or a date; a weak ETag would make every resume start over.
    const strongEtag = request.resumeIf?.etag?.startsWith("W/")
      ? undefined
      : request.resumeIf?.etag;
    const resumeValidator = strongEtag ?? request.resumeIf?.lastModified;
    const ranged = request.offset > 0 && resumeValidator !== undefined;
    if (ranged) {
      headers.range = `bytes=${request.offset}-`;
      headers["if-range"] = resumeValidator;
    }

    const response = await this.#get(headers, request.signal);
    const status = response.statusCode;
    // The no-op's answer first: nothing of it is read but its status.
    if (status === 304 && unchanged) {
      await discardBody(response);
      return { kind: "not-modified" };
    }
    const validators = validatorsOf(response.headers, this.#client.now());
    const length = numberHeader(response.headers["content-length"]);

    if (status === 200) {
      return {
        kind: "body",
        body: response.handOver(),
        offset: 0,
        length,
        validators,
        stated: statedDigests(response.headers, true),
        ...(acceptsByteRanges(response.headers["accept-ranges"]) ? { acceptsRanges: true } : {}),
      };
    }
    if (status === 206 && ranged) {
      const range = parseContentRange(response.headers["content-range"]);
      if (
        !range ||
        range.start !== request.offset ||
        (length !== undefined && length !== range.end - range.start + 1)
      ) {
        await discardBody(response);
        throw new SyncError(
          "http_error",
          `${this.#display()}: 206 with a Content-Range that does not match the request`,
          {
            status,
            retryable: true,
            discardPartial: true,
          },
        );
      }
      return {
        kind: "body",
        body: response.handOver(),
        offset: range.start,
        length: range.end - range.start + 1,
        validators: { ...validators, ...(range.total === undefined ? {} : { size: range.total }) },
        // Content-Digest and Content-MD5 describe this part only; Repr-Digest the whole file.
        stated: statedDigests(response.headers, false),
      };
    }
    await discardBody(response);
    if (status === 416 && ranged) {
      throw new SyncError(
        "http_error",
        `${this.#display()}: range not satisfiable; restarting from zero`,
        {
          status,
          retryable: true,
          discardPartial: true,
        },
      );
    }
    throw this.#statusError(status, response.headers);
  }

  async openRange(request: RangeRequest): Promise<RangeAnswer> {
    const { start, end, version } = request;
    const headers = conditionalHeaders(undefined);
    // If-Range takes a strong ETag or a date: the server sends the span only for that version.
    const strongEtag = version.etag?.startsWith("W/") ? undefined : version.etag;
    const validator = strongEtag ?? version.lastModified;
    if (validator === undefined || end <= start)
      throw new SyncError("invalid_source", `${this.#display()}: no strong validator for a range`);
    headers.range = `bytes=${start}-${end - 1}`;
    headers["if-range"] = validator;
    const response = await this.#get(headers, request.signal);
    const status = response.statusCode;
    const validators = validatorsOf(response.headers, this.#client.now());
    if (status === 206) {
      const range = parseContentRange(response.headers["content-range"]);
      const length = numberHeader(response.headers["content-length"]);
      if (
        !range ||
        range.start !== start ||
        range.end !== end - 1 ||
        (length !== undefined && length !== end - start)
      ) {
        await discardBody(response);
        throw new SyncError(
          "http_error",
          `${this.#display()}: 206 with a Content-Range that does not match the request`,
          { status, retryable: true, discardPartial: true },
        );
      }
      return {
        kind: "range",
        body: response.handOver(),
        validators,
        total: range.total,
        stated: statedDigests(response.headers, false),
      };
    }
    await discardBody(response);
    if (status === 200) return { kind: "whole", validators };
    if (status === 416) {
      throw new SyncError("http_error", `${this.#display()}: range not satisfiable`, {
        status,
        retryable: true,
        discardPartial: true,
      });
    }
    throw this.#statusError(status, response.headers);
  }

  #statusError(status: number, headers: ResponseHeaders): SyncError {
    const viaProxy = this.#client.proxyFor(this.#lastUrl ?? this.#url) !== undefined;
    return httpStatusError(status, headers, this.#display(), this.#client.now(), viaProxy);
  }

  describeError(error: unknown): SyncError {
    const where = this.#display();
    const proxy = this.#client.proxyFor(this.#lastUrl ?? this.#url);
    return describeHttpError(error, where, proxy);
  }

  /** One GET of this URL (redirects followed), its failure classified. */
  async #get(headers: Record<string, string>, signal: AbortSignal): Promise<HttpResponse> {
    try {
      return (await this.#client.get(this.#url, headers, signal, "GET", this.#hop)).response;
    } catch (error) {
      throw this.describeError(error);
    }
  }

  /** The URL for messages: after a redirect, the one that answered, and where it came from. */
  #display(): string {
    const first = redactUrl(this.#url);
    // The client sends userinfo as a header, so the URL it asked is the same one without it:
    // not a redirect.
    if (this.#lastUrl === undefined || bare(this.#lastUrl) === bare(this.#url)) return first;
    return `${redactUrl(this.#lastUrl)} (redirected from ${first})`;
  }
}

/** `Accept-Ranges: bytes` (a list, case-insensitive); `none` or absent: no. */
function acceptsByteRanges(value: string | string[] | undefined): boolean {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return text.split(",").some((unit) => unit.trim().toLowerCase() === "bytes");
}

/** `href` without user and password, for comparing two spellings of one URL. */
function bare(href: string): string {
  try {
    const url = new URL(href);
    url.username = "";
    url.password = "";
    return url.href;
  } catch {
    return href;
  }
}
