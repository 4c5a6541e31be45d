/** The results document (README, "Results document") and the exit code it implies (README, "Exit codes"). */
import type { SourceResult, Status } from "../core/result.js";
import type { FailureCode } from "../errors.js";

export type { SourceResult, Status } from "../core/result.js";

export interface Summary {
  total: number;
  synced: number;
  unchanged: number;
  skipped: number;
  failed: number;
  bytes: number;
}

export interface Report {
  run_id: string;
  version: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  exit_code: number;
  summary: Summary;
  results: SourceResult[];
}

export const EXIT = {
  ok: 0,
  partial: 1,
  environment: 42,
  usage: 64,
  checksum: 65,
  transfer: 70,
  write: 73,
  circuitOpen: 75,
  sigint: 130,
  sigterm: 143,
} as const;

export function summarize(results: SourceResult[]): Summary {
  const count = (status: Status) => results.filter((r) => r.status === status).length;
  return {
    total: results.length,
    synced: count("synced"),
    unchanged: count("unchanged"),
    skipped: count("skipped"),
    failed: count("failed"),
    bytes: results.reduce((sum, r) => sum + r.bytes, 0),
  };
}

const CODE_EXIT: Partial<Record<FailureCode, number>> = {
  checksum_mismatch: EXIT.checksum,
  write_error: EXIT.write,
  circuit_open: EXIT.circuitOpen,
};

/**
 * 0 when nothing failed; 1 when some failed and some did not; when all failed, the code of their
 * common cause (65, 73, 75), else 70.
 */
export function exitCodeFor(results: SourceResult[]): number {
  const failed = results.filter((r) => r.status === "failed");
  if (failed.length === 0) return EXIT.ok;
  if (failed.length < results.length) return EXIT.partial;
  const codes = new Set(failed.map((r) => r.error?.code));
  const [only] = codes;
  return codes.size === 1 && only !== undefined
    ? (CODE_EXIT[only] ?? EXIT.transfer)
    : EXIT.transfer;
}
