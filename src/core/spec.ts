/**
 * `JobSpec`: one source/destination pair and how to sync it, as plain data — serialisable (a
 * queue can carry it) and free of secrets: credentials (URL userinfo, headers, netrc) come from
 * the runtime that runs it, never from the spec.
 */
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import type { FailureCode } from "../errors.js";

export interface JobSource {
  kind: "http" | "file";
  /** The URL without userinfo (http), or the absolute path (file). */
  href: string;
  /** Safe to log: secrets redacted. Also the source's identity in state records. */
  display: string;
  /** Circuit breaker key: `scheme://host:port`, or the file URL of a local file. */
  origin: string;
  /**
   * A file of a directory source: what is read must really lie inside it. For a local folder its
   * real path; for a remote directory its URL (no userinfo), which no redirect may leave.
   */
  within?: string;
}

export interface JobSpec {
  source: JobSource;
  /** Absolute path of the destination, as planned. */
  destination: string;
  /**
   * The folder the user named (`--artifact-root`, or the `--destination` of a directory): the
   * folders between it and `destination` are made by the sync and must never be links.
   */
  destinationWithin?: string;
  /**
   * For a file of a local directory source: the permission bits of the source's folders, from
   * the directory source itself down to the file's folder. The folders the sync makes for them
   * (the last ones below `destinationWithin`) get these bits, less the umask, the owner's always
   * kept (as `cp -r` does): a private folder is not mirrored as one anybody may read.
   */
  folderModes?: number[];
  /** The digest computed while streaming (and reported). */
  algorithm: ChecksumAlgorithm;
  /** The digest the user expects, if any: a mismatch fails the pair and leaves the destination be. */
  expected?: { algorithm: ChecksumAlgorithm; hex: string };
  /** Attempts in total (≥ 1), not counting those the origin's health makes free (see `transfer.ts`). */
  maxAttempts: number;
  /**
   * No retry starts once this many milliseconds have passed without an answer from the origin
   * (counted from the pair's first attempt, and again from every answer and every body byte).
   */
  retryMaxTimeMs: number;
  /** Ignore markers and validators: fetch and verify anew (still atomic). */
  force: boolean;
  /** How long to wait for a busy destination; 0 skips at once. */
  waitLockMs: number;
  /** Any body larger than this fails (`write_error`), its part removed. */
  maxFileBytes?: number;
  /** `--split`: connections a large ranged download may use at once; absent or 1: one stream. */
  split?: number;
  /** Set when the pair must not be synced at all (an unsafe name): it fails as such, touching nothing. */
  invalid?: { code: FailureCode; message: string };
}
