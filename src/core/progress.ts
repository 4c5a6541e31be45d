/** Progress events: what `sync()` tells a progress subscriber (the CLI's bars, a library caller). */
import type { SourceResult } from "./result.js";

export type ProgressEvent =
  /** The plan is made: `total` pairs will be worked on. */
  | { type: "planned"; total: number }
  | { type: "started"; source: string; destination: string }
  /** Body bytes arrived: `received` of the file so far (including resumed bytes), out of `total` when known. */
  | {
      type: "bytes";
      source: string;
      destination: string;
      chunk: number;
      received: number;
      total: number | undefined;
    }
  | { type: "finished"; result: SourceResult };
