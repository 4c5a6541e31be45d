/**
 * One attempt at one transfer: open the source (conditionally, resuming a kept part file when
 * its validators still agree), stream the body into the part file while hashing it in the same
 * pass, check its length and any digest the source states, fsync. Verifying the user's checksum
 * and committing are the caller's next steps.
 */
import type { Hash } from "node:crypto";
import { type FileHandle, open, stat } from "node:fs/promises";
import { finished } from "node:stream";
import { SyncError, writeError } from "../errors.js";
import { canResumeWith, type OpenResult, type Source, type Validators } from "../sources/source.js";
import type { PartialRecord, StateStore } from "../state/store.js";
import { discardPart } from "./commit.js";
import { type ChecksumAlgorithm, hashFileInto, newHash } from "./digest.js";
import { PartWriter } from "./part-writer.js";

export interface AttemptContext {
  source: Source;
  /** The source's identity in state records (its redacted URL, or its path). */
  sourceId: string;
  store: StateStore;
  /** The key of the part file's record: one per destination, as the part file is. */
  stateKey: string;
  partPath: string;
  algorithm: ChecksumAlgorithm;
  signal: AbortSignal;
  /** Called as the attempt begins, with the offset it resumes from (0: from the start). */
  onAttempt?: (resumeFrom: number) => void;
  /** Called once the source has answered (a body or not-modified): the origin works. */
  onOpened?: () => void;
  /** Called as body bytes arrive: (bytes this chunk, bytes of the file so far, expected total). */
  onBytes?: (chunk: number, received: number, total: number | undefined) => void;
}

export type AttemptResult =
  | { kind: "not-modified" }
  | {
      kind: "fetched";
      /** Hex digest of the whole part file. */
      checksum: string;
      /** Size of the whole part file. */
      size: number;
      /** Body bytes received in this attempt. */
      received: number;
      /** Where this attempt's body started (0, or the resumed offset). */
      resumedFrom: number;
      validators: Validators;
      /** The response headers whose stated digests the bytes matched. */
      verifiedBy: string[];
    };

type Body = Extract<OpenResult, { kind: "body" }>;

/** Bodies up to this size are fetched again whole rather than resumed: a record would cost more than it saves. */
const RESUMABLE_FROM_BYTES = 64 * 1024;

/** Runs one attempt. Throws `SyncError`; keeps the part file for a resume unless it cannot be trusted. */
export async function attemptTransfer(
  context: AttemptContext,
  unchangedIf: Validators | undefined,
): Promise<AttemptResult> {
  const opened = await openResumable(context, unchangedIf);
  context.onOpened?.();
  if (opened.kind === "not-modified") return opened;

  const hash = newHash(context.algorithm);
  // Digests the source states in another algorithm are computed in the same pass.
  const extra = new Map<ChecksumAlgorithm, Hash>();
  for (const stated of opened.stated) {
    if (stated.algorithm !== context.algorithm && !extra.has(stated.algorithm))
      extra.set(stated.algorithm, newHash(stated.algorithm));
  }
  const hashes = [hash, ...extra.values()];

  const handle = await openPart(context, opened, hashes);
  let received: number;
  try {
    received = await streamInto(context, handle, hashes, opened);
  } finally {
    await handle.close().catch(() => {});
  }

  const size = opened.offset + received;
  const total =
    opened.validators.size ??
    (opened.length === undefined ? undefined : opened.offset + opened.length);
  if (
    (opened.length !== undefined && received !== opened.length) ||
    (total !== undefined && size !== total)
  ) {
    throw new SyncError("network", `short body: have ${size} of ${total ?? "?"} bytes`, {
      retryable: true,
    });
  }

  const checksum = hash.digest("hex");
  const digests = new Map([...extra].map(([algorithm, h]) => [algorithm, h.digest("hex")]));
  digests.set(context.algorithm, checksum);
  for (const stated of opened.stated) {
    const actual = digests.get(stated.algorithm);
    if (actual !== stated.hex) {
      // Corrupted in transit (or a server that lies): these bytes must not be kept or resumed.
      await forgetPart(context);
      throw new SyncError(
        "checksum_mismatch",
        `the body does not match the ${stated.header} header: ${stated.algorithm} ${actual}, stated ${stated.hex}`,
        { retryable: true },
      );
    }
  }
  return {
    kind: "fetched",
    checksum,
    size,
    received,
    resumedFrom: opened.offset,
    validators: opened.validators,
    verifiedBy: [...new Set(opened.stated.map((stated) => stated.header))],
  };
}

/**
 * Opens the source, resuming the kept part file when its record names this source and the
 * answer proves the same version. When the answer rules a resume out (a 416, a mismatched
 * Content-Range, a changed validator), the part is dropped and the source opened again from zero
 * within the same attempt.
 */
async function openResumable(
  context: AttemptContext,
  unchangedIf: Validators | undefined,
): Promise<Body | { kind: "not-modified" }> {
  const kept = await stat(context.partPath).catch(() => undefined);
  // No part file, nothing to resume: its record need not even be read.
  const partial =
    kept && kept.size > 0 ? await context.store.readPartial(context.stateKey) : undefined;
  const resumable =
    partial !== undefined && partial.source === context.sourceId && kept !== undefined;
  context.onAttempt?.(resumable ? kept.size : 0);
  if (!resumable) {
    return open0(context, { offset: 0, resumeIf: undefined, unchangedIf, signal: context.signal });
  }
  try {
    const opened = await open0(context, {
      offset: kept.size,
      resumeIf: partial.validators,
      unchangedIf,
      signal: context.signal,
    });
    if (opened.kind === "body" && opened.offset > 0 && !sameVersion(partial, opened.validators)) {
      abandon(opened.body);
      throw new SyncError("http_error", "the source changed since the partial download", {
        retryable: true,
        discardPartial: true,
      });
    }
    return opened;
  } catch (error) {
    if (!(error instanceof SyncError && error.discardPartial)) throw error;
    await forgetPart(context);
    return open0(context, { offset: 0, resumeIf: undefined, unchangedIf, signal: context.signal });
  }
}

async function open0(
  context: AttemptContext,
  request: Parameters<Source["open"]>[0],
): Promise<Body | { kind: "not-modified" }> {
  try {
    return await context.source.open(request);
  } catch (error) {
    throw context.source.describeError(error);
  }
}

/** A ranged answer continues the kept bytes only if it names the version they were fetched under. */
function sameVersion(partial: PartialRecord, answer: Validators): boolean {
  const kept = partial.validators;
  if (kept.etag !== undefined && answer.etag !== undefined) return kept.etag === answer.etag;
  if (kept.lastModified !== undefined && answer.lastModified !== undefined)
    return kept.lastModified === answer.lastModified;
  if (kept.mtimeMs !== undefined && answer.mtimeMs !== undefined)
    return kept.mtimeMs === answer.mtimeMs && kept.size === answer.size;
  return true;
}

/**
 * Opens the part file for this body. Resuming: hash the kept bytes first. From zero: the old
 * record goes first, then the file is truncated, then the new record is written — so a crash
 * at any point never leaves a record that vouches for bytes of another version.
 */
async function openPart(
  context: AttemptContext,
  opened: Body,
  hashes: Hash[],
): Promise<FileHandle> {
  const { store, stateKey, partPath } = context;
  try {
    if (opened.offset > 0) {
      await hashFileInto(hashes, partPath, opened.offset, context.signal);
      const handle = await open(partPath, "r+");
      await handle.truncate(opened.offset);
      return handle;
    }
    await store.deletePartial(stateKey);
    const handle = await open(partPath, "w");
    // Data fetched without a validator can never be safely resumed, and a small file is not
    // worth resuming: neither gets a record.
    if (
      canResumeWith(opened.validators) &&
      !(opened.length !== undefined && opened.length <= RESUMABLE_FROM_BYTES)
    ) {
      await store.writePartial(stateKey, {
        source: context.sourceId,
        validators: opened.validators,
      });
    }
    return handle;
  } catch (error) {
    abandon(opened.body);
    if (context.signal.aborted) throw context.signal.reason;
    throw error instanceof SyncError ? error : writeError("write", partPath, error);
  }
}

/**
 * Streams the body into the part file from its offset, hashing each chunk as it arrives; fsyncs.
 * Chunks are taken as 'data' events (no re-buffering) and handed to a `PartWriter`, so that the
 * network, the hash and the disk work at the same time. Returns the bytes received.
 */
async function streamInto(
  context: AttemptContext,
  handle: FileHandle,
  hashes: Hash[],
  opened: Body,
): Promise<number> {
  const { offset, body, length } = opened;
  const total = length === undefined ? undefined : offset + length;
  const writer = new PartWriter(handle, offset);
  let received = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      // `finished` also reports a body that ended or failed before we began to listen.
      const stopWatching = finished(body, { writable: false }, (error) =>
        error ? onError(error) : onEnd(),
      );
      const cleanup = () => {
        body.off("data", onData);
        stopWatching();
        context.signal.removeEventListener("abort", onAbort);
      };
      const fail = (error: unknown) => {
        cleanup();
        reject(error);
      };
      const onData = (chunk: Buffer) => {
        for (const hash of hashes) hash.update(chunk);
        received += chunk.length;
        let wait: Promise<void> | undefined;
        try {
          wait = writer.push(chunk);
        } catch (error) {
          fail(writeError("write", context.partPath, error));
          return;
        }
        context.onBytes?.(chunk.length, offset + received, total);
        if (wait) {
          body.pause();
          wait.then(
            () => body.resume(),
            (error: unknown) => fail(writeError("write", context.partPath, error)),
          );
        }
      };
      const onEnd = () => {
        cleanup();
        resolve();
      };
      const onError = (error: unknown) =>
        fail(context.signal.aborted ? context.signal.reason : context.source.describeError(error));
      const onAbort = () => fail(context.signal.reason);
      body.on("data", onData);
      context.signal.addEventListener("abort", onAbort, { once: true });
      if (context.signal.aborted) onAbort();
    });
    try {
      await writer.finish();
    } catch (error) {
      throw writeError("write", context.partPath, error);
    }
    return received;
  } catch (error) {
    abandon(body);
    await writer.abandon();
    // After a failed write the part's end is not to be trusted for a resume: start over.
    if (error instanceof SyncError && error.code === "write_error")
      await forgetPart(context).catch(() => {});
    throw error;
  }
}

/** Drops a part file and its record: its bytes can no longer be trusted or resumed. */
export async function forgetPart(
  context: Pick<AttemptContext, "store" | "stateKey" | "partPath">,
): Promise<void> {
  await context.store.deletePartial(context.stateKey);
  await discardPart(context.partPath);
}

/** Stops reading a body we no longer want; its late "aborted" error is expected, not a crash. */
function abandon(body: Body["body"]): void {
  body.on("error", () => {});
  body.destroy();
}
