/** Whether a kept part may be resumed, from its record alone (pure: no I/O). */
import { canResumeWith } from "../sources/source.js";
import type { Lease, PartRecord } from "../state/store.js";
import { segmentsCover } from "./segments.js";

/**
 * Why `record` may not be resumed by the job of `source` holding `lease`; "" when it is simply
 * of no use (no warning), undefined when it may be resumed.
 */
export function refusalOf(record: PartRecord, source: string, lease: Lease): string | undefined {
  if (record.source !== source || !canResumeWith(record.validators)) return "";
  if (record.segments !== undefined && !segmentsCover(record.segments, record.file.size))
    return "its record of segments does not describe the part";
  if (record.closed) return undefined;
  const before = lease.predecessor;
  if (before.ended === "gone" && before.token === record.holder) return undefined;
  return "its writer may still be running (it never closed it)";
}
