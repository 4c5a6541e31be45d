/**
 * Acting as another user in tests: `setpriv` to nobody (uid and gid 65534), for permission and
 * planted-link attacks. Needs root; tests that need it skip with `AS_NOBODY_SKIP`'s reason.
 */
import { spawnSync } from "node:child_process";

/** A command prefix that runs what follows as nobody, without supplementary groups. */
export const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** Whether this process may run commands as nobody (root, and `setpriv` works here). */
export const canDropPrivileges =
  process.getuid?.() === 0 &&
  spawnSync(NOBODY[0] as string, [...NOBODY.slice(1), "true"]).status === 0;

/** `false`, or why tests acting as nobody are skipped here. */
export const AS_NOBODY_SKIP: false | string = canDropPrivileges
  ? false
  : "needs root and setpriv to act as another user";
