/**
 * The size of V8's new space (both semi-spaces) as a child process exits: a preload to give it
 * with `--import` (on its command line or in NODE_OPTIONS), and the reader of what it prints.
 */

/** Loaded before the program: prints `new_space=<bytes>` on stderr when the process exits. */
export const REPORT_NEW_SPACE = `data:text/javascript,${encodeURIComponent(`
  import { getHeapSpaceStatistics } from "node:v8";
  import { writeSync } from "node:fs";
  process.on("exit", () => {
    const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    writeSync(2, "new_space=" + space.space_size + "\\n");
  });
`)}`;

/** The new space's size the preload printed in `stderr`, in bytes; `undefined` if none. */
export function reportedNewSpace(stderr: string): number | undefined {
  const match = /new_space=(\d+)/.exec(stderr);
  return match ? Number(match[1]) : undefined;
}
