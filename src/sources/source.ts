/**
 * The contract every source kind (http, file) meets: open the data, conditionally and from an
 * offset, and say what version of it is being read.
 */
import type { Readable } from "node:stream";
import type { SyncError } from "../errors.js";

/** What identifies a version of the source: HTTP validators, or a file's size and mtime. */
export interface Validators {
  etag?: string;
  lastModified?: string;
  size?: number;
  mtimeMs?: number;
  /**
   * The answer's `Content-Encoding` when not identity (a server may send gzip although identity
   * was asked for; such bytes are kept as sent, as curl keeps them). A range of one encoding is
   * not a range of another, whatever the ETag says: bytes of two never meet in one file.
   */
  encoding?: string;
}

export interface OpenRequest {
  /** Ask for the bytes from here on (resume); honoured only when `resumeIf` still matches. */
  offset: number;
  /** The validators the already-received bytes were fetched under. */
  resumeIf: Validators | undefined;
  /** Answer `not-modified` (no body) when the source still matches these. */
  unchangedIf: Validators | undefined;
  signal: AbortSignal;
}

export type OpenResult =
  | { kind: "not-modified" }
  | {
      kind: "body";
      body: Readable;
      /** Where the body starts: the requested offset when resuming, else 0. */
      offset: number;
      /** Body bytes expected, when the source states it. */
      length: number | undefined;
      validators: Validators;
      /**
       * Digests of the whole file as the source states them (RFC 9530 `Repr-Digest` /
       * `Content-Digest`, `Content-MD5`), to verify the bytes received even when the user gave none.
       */
      stated: StatedDigest[];
      /** The permission bits a new destination should get (a local file's own); else the umask's. */
      mode?: number;
      /** The answer said `Accept-Ranges: bytes`: its bytes may be fetched in segments. */
      acceptsRanges?: boolean;
    };

/** One segment's request: the bytes `[start, end)` of the version `version` names, and no other. */
export interface RangeRequest {
  start: number;
  /** One past the last byte wanted. */
  end: number;
  /** The validators of the version the other segments belong to: sent as `If-Range`. */
  version: Validators;
  signal: AbortSignal;
}

/** What a segment's request got: its span, or the whole file (see each case). */
export type RangeAnswer =
  /** A 206 for exactly `[start, end)` (a `Content-Range` of any other span is refused). */
  | {
      kind: "range";
      body: Readable;
      validators: Validators;
      /** The file's size as the `Content-Range` states it (undefined for `*`). */
      total: number | undefined;
      /** Digests of the whole file the answer states (`Repr-Digest` only: the body is a part). */
      stated: StatedDigest[];
    }
  /**
   * A 200: the `If-Range` did not match (the source changed) or the server ignores ranges. The
   * body is already discarded; the validators tell the two apart.
   */
  | { kind: "whole"; validators: Validators };

export interface StatedDigest {
  algorithm: import("../checksums/digest.js").ChecksumAlgorithm;
  hex: string;
  /** The header it came from, for messages. */
  header: string;
}

export interface Source {
  /** Opens the data; throws `SyncError` (classified: code, retryable) when it cannot. */
  open(request: OpenRequest): Promise<OpenResult>;
  /**
   * Asks whether the source still matches `unchangedIf`, transferring no data (dry runs). The
   * no-op fast path uses `open` with `unchangedIf` instead, so that a changed source's answer is
   * already the transfer.
   */
  check(unchangedIf: Validators | undefined, signal: AbortSignal): Promise<"unchanged" | "changed">;
  /** The origin (`scheme://host:port`) that answered the last request, after redirects; undefined for local files. */
  servedBy?(): string | undefined;
  /** Classifies an error raised while reading an opened body (reset, stall, short read). */
  describeError(error: unknown): SyncError;
  /**
   * Asks for one segment with `Range` and `If-Range` (sources that can: http). Throws a
   * classified `SyncError`; a 206 whose `Content-Range` is not the span asked for, or a 416, is
   * `discardPartial`.
   */
  openRange?(request: RangeRequest): Promise<RangeAnswer>;
}

/** Whether a resume may rely on `validators`: a strong ETag, a Last-Modified date, or a file's size and mtime. */
export function canResumeWith(validators: Validators | undefined): validators is Validators {
  if (!validators) return false;
  if (validators.etag !== undefined && !validators.etag.startsWith("W/")) return true;
  if (validators.lastModified !== undefined) return true;
  return validators.size !== undefined && validators.mtimeMs !== undefined;
}

/**
 * Whether an answer resuming `kept` bytes proves it serves the version they were fetched under:
 * the same `Content-Encoding`, every validator both name agrees (ETags, Last-Modified dates, a file's mtime and size), and at
 * least one of them proves it (a strong ETag, a date, a file's mtime and size). An answer naming
 * none proves nothing: a server that ignores `If-Range` and drops its validators on a 206 would
 * splice two versions, so such a resume starts over.
 */
export function sameVersion(kept: Validators, answer: Validators): boolean {
  if (kept.encoding !== answer.encoding) return false;
  let proven = false;
  if (kept.etag !== undefined && answer.etag !== undefined) {
    if (kept.etag !== answer.etag) return false;
    proven = !kept.etag.startsWith("W/");
  }
  if (kept.lastModified !== undefined && answer.lastModified !== undefined) {
    if (kept.lastModified !== answer.lastModified) return false;
    proven = true;
  }
  if (kept.mtimeMs !== undefined && answer.mtimeMs !== undefined) {
    if (kept.mtimeMs !== answer.mtimeMs || kept.size !== answer.size) return false;
    proven = true;
  }
  return proven;
}

/**
 * Whether a segment's answer carries the very version the first answer named: its strong ETag,
 * else its Last-Modified date. Stricter than `sameVersion`: an answer that omits the validator is
 * refused, since segments are stitched into one file and nothing else could tell their versions
 * apart (a server that ignores `If-Range` and drops validators on a 206 would mix two versions).
 */
export function carriesVersion(kept: Validators, answer: Validators): boolean {
  if (kept.encoding !== answer.encoding) return false;
  if (kept.etag !== undefined && !kept.etag.startsWith("W/")) return answer.etag === kept.etag;
  if (kept.lastModified !== undefined) return answer.lastModified === kept.lastModified;
  return false;
}

/** What a lent body is handed to: each chunk with its release, then the end or the error. */
export interface BodyConsumer {
  /**
   * A chunk. Its bytes stay as they are until `release` is called, and may be reused for later
   * chunks at any moment after it: call it once nothing holds the chunk any more (written, not
   * merely queued). A chunk never released is never reused (it costs memory, not data).
   */
  chunk(bytes: Buffer, release: () => void): void;
  /** Every chunk was handed over. */
  end(): void;
  /** The body failed; every chunk that arrived before was handed over first. */
  error(error: Error): void;
}

/**
 * A body whose chunks may be borrowed rather than read as a stream (the http client's): no copy,
 * no stream machinery, and the memory they are read into is used again once released.
 */
export interface LendingBody {
  /** Not read as a stream, dumped or destroyed yet: `lend` may be called. */
  readonly lendable: boolean;
  /** Takes the body over: from now on it is not read as a stream. */
  /**
   * `limitBytes`: lent bytes not yet released beyond which the network is not read (default:
   * the body's own, sized for one transfer; the segments of one file share it out).
   */
  lend(consumer: BodyConsumer, limitBytes?: number): void;
  /** Stops reading from the network (chunks of the read under way may still be handed over). */
  pauseLending(): void;
  resumeLending(): void;
}

/** The body as a `LendingBody`, when it is one and has not been read as a stream yet. */
export function lendingBody(body: Readable): (Readable & LendingBody) | undefined {
  const lending = body as Readable & Partial<LendingBody>;
  return lending.lendable === true ? (lending as Readable & LendingBody) : undefined;
}
