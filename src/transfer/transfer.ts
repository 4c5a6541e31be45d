/**
 * One attempt at one transfer: open the source (conditionally, resuming a kept part file when
 * its validators still agree), stream the body into the part file while hashing it in the same
 * pass, check its length, fsync. Verifying and committing are the caller's next steps.
 */
import type { Hash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { SyncError, writeError } from "../errors.js";
import { canResumeWith, type Source, type Validators } from "../sources/source.js";
import type { StateStore } from "../state/store.js";
import { discardPart } from "./commit.js";
import { type ChecksumAlgorithm, hashFileInto, newHash } from "./digest.js";

export interface AttemptContext {
  source: Source;
  /** The source as identified in state records (its URL or path). */
  sourceId: string;
  store: StateStore;
  stateKey: string;
  partPath: string;
  algorithm: ChecksumAlgorithm;
  signal: AbortSignal;
  /** Called once the source has answered with a body: the origin works. */
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

/** Runs one attempt. Throws `SyncError`; keeps the part file for a resume unless told to discard it. */
export async function attemptTransfer(
  context: AttemptContext,
  unchangedIf: Validators | undefined,
): Promise<AttemptResult> {
  const { store, stateKey, partPath } = context;
  const partial = await store.readPartial(stateKey);
  const kept = await stat(partPath).catch(() => undefined);
  const resumable =
    partial !== undefined && partial.source === context.sourceId && kept !== undefined;
  const offset = resumable ? kept.size : 0;

  let opened: Awaited<ReturnType<Source["open"]>>;
  try {
    opened = await context.source.open({
      offset,
      resumeIf: resumable ? partial.validators : undefined,
      unchangedIf,
      signal: context.signal,
    });
  } catch (error) {
    const failure = context.source.describeError(error);
    if (failure.discardPartial) await forgetPart(context);
    throw failure;
  }
  context.onOpened?.();
  if (opened.kind === "not-modified") return opened;

  const hash = newHash(context.algorithm);
  // Digests the source states in another algorithm are computed in the same pass.
  const extra = new Map<ChecksumAlgorithm, Hash>();
  for (const stated of opened.stated) {
    if (stated.algorithm !== context.algorithm && !extra.has(stated.algorithm)) {
      extra.set(stated.algorithm, newHash(stated.algorithm));
    }
  }
  const hashes = [hash, ...extra.values()];
  if (opened.offset > 0) {
    await hashFileInto(hashes, partPath, opened.offset, context.signal);
  } else if (canResumeWith(opened.validators)) {
    await store.writePartial(stateKey, { source: context.sourceId, validators: opened.validators });
  } else {
    // Data fetched without a validator can never be safely resumed.
    await store.deletePartial(stateKey);
  }

  const received = await streamInto(context, hashes, opened.body, opened.offset, opened.length);
  if (opened.length !== undefined && received !== opened.length) {
    throw new SyncError("network", `short body: received ${received} of ${opened.length} bytes`, {
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
    size: opened.offset + received,
    received,
    resumedFrom: opened.offset,
    validators: opened.validators,
    verifiedBy: [...new Set(opened.stated.map((stated) => stated.header))],
  };
}

/** Writes the body at `offset` of the part file (truncating anything after it), hashing each chunk; fsyncs. */
async function streamInto(
  context: AttemptContext,
  hashes: Hash[],
  body: AsyncIterable<Uint8Array> & { destroy(): void },
  offset: number,
  length: number | undefined,
): Promise<number> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(context.partPath, offset > 0 ? "r+" : "w");
    if (offset > 0) await handle.truncate(offset);
  } catch (error) {
    body.destroy();
    throw writeError("write", context.partPath, error);
  }
  let received = 0;
  try {
    const chunks = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await chunks.next();
      } catch (error) {
        if (context.signal.aborted) throw context.signal.reason;
        throw context.source.describeError(error);
      }
      if (next.done) break;
      const chunk = next.value;
      for (const hash of hashes) hash.update(chunk);
      try {
        await handle.write(chunk, 0, chunk.length, offset + received);
      } catch (error) {
        throw writeError("write", context.partPath, error);
      }
      received += chunk.length;
      context.onBytes?.(
        chunk.length,
        offset + received,
        length === undefined ? undefined : offset + length,
      );
    }
    try {
      await handle.sync();
    } catch (error) {
      throw writeError("sync", context.partPath, error);
    }
    return received;
  } catch (error) {
    body.destroy();
    throw error;
  } finally {
    await handle.close().catch(() => {});
  }
}

/** Drops a part file and its record: its bytes can no longer be trusted or resumed. */
export async function forgetPart(
  context: Pick<AttemptContext, "store" | "stateKey" | "partPath">,
): Promise<void> {
  await context.store.deletePartial(context.stateKey);
  await discardPart(context.partPath);
}
