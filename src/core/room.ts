/** Whether a body fits: `--max-filesize`, and the free space where the part is written. */
import { SyncError } from "../errors.js";
import type { OpenResult } from "../sources/source.js";
import type { AttemptContext } from "./attempt.js";

type Body = Extract<OpenResult, { kind: "body" }>;

/** Bodies of at least this many bytes are checked against the free space before being written. */
export const SPACE_CHECK_FROM = 1024 * 1024;

/**
 * Fails at once, before any byte is written, when the body's size is known (and at least
 * `SPACE_CHECK_FROM`) and the destination's filesystem has less room than that (instead of
 * transferring until ENOSPC).
 */
export async function checkSpace(
  context: AttemptContext,
  total: number | undefined,
  needed: number | undefined,
): Promise<void> {
  if (context.maxFileBytes !== undefined && total !== undefined && total > context.maxFileBytes)
    throw tooLarge(context, total);
  // A small body is not worth the question: it would fail on ENOSPC just as early (a write_error
  // all the same), and a batch of small files would pay a statfs each.
  if (needed === undefined || needed < SPACE_CHECK_FROM || !context.freeBytes) return;
  const free = await context.freeBytes();
  if (free === undefined || free >= needed) return;
  throw new SyncError(
    "write_error",
    `not enough space for ${context.display ?? "the source"}: ${needed} bytes needed, ${free} bytes free where it is written`,
  );
}

/** The whole file's size, when the answer says it (a 206's Content-Range, or offset + length). */
export function totalOf(opened: Body): number | undefined {
  return (
    opened.validators.size ??
    (opened.length === undefined ? undefined : opened.offset + opened.length)
  );
}

/** The failure of a body larger than `--max-filesize`. */
export function tooLarge(
  context: Pick<AttemptContext, "display" | "maxFileBytes">,
  bytes: number,
): SyncError {
  return new SyncError(
    "write_error",
    `${context.display ?? "the source"} is larger than --max-filesize (${context.maxFileBytes} bytes): ${bytes} bytes or more`,
  );
}
