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
    };

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
}

/** Whether a resume may rely on `validators`: a strong ETag, a Last-Modified date, or a file's size and mtime. */
export function canResumeWith(validators: Validators | undefined): validators is Validators {
  if (!validators) return false;
  if (validators.etag !== undefined && !validators.etag.startsWith("W/")) return true;
  if (validators.lastModified !== undefined) return true;
  return validators.size !== undefined && validators.mtimeMs !== undefined;
}
