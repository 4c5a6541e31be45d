/**
 * `--state redis://[user:pass@]host:port[/db]`, parsed and checked at the edge (no client is
 * loaded here: the option checks stay cheap). The password is kept apart from what is shown:
 * `display` never carries userinfo, so logs and errors can name the store freely.
 */
import { UsageError } from "../../errors.js";
import { defaultOf } from "../../options/spec.js";

/** Where a Redis state store lives, as `--state` said. */
export interface RedisLocation {
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  /** `redis://host:port/db`: no userinfo, safe for logs, errors and the results document. */
  display: string;
}

const DEFAULT_PORT = 6379;
/** Redis's own ceiling on `databases` is far lower; this only refuses nonsense. */
const MAX_DB = 1_000_000;

/**
 * The environment variable a Redis password may come from instead of the URL, where every user
 * of the machine can read it (`ps`, `/proc/PID/cmdline`) for as long as a worker runs. A
 * password in the URL wins.
 */
export const REDIS_PASSWORD_ENV = "RESILIENT_SYNC_REDIS_PASSWORD";

/**
 * Parses a `--state` value (or `--queue`'s), the password from `env[REDIS_PASSWORD_ENV]` when
 * the URL has none. Throws `UsageError` naming `flag` for any other scheme, a bad port or
 * database, a query or fragment (nothing would read them: refused rather than ignored).
 */
export function parseRedisLocation(
  raw: string,
  flag = "--state",
  env: NodeJS.ProcessEnv = {},
): RedisLocation {
  const refuse = (why: string) =>
    new UsageError(flag, `${flag} must be redis://[user:pass@]host[:port][/db]: ${why}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Never echo the raw value: it may carry a password.
    throw refuse("not a URL (or its port is out of range)");
  }
  if (url.protocol !== "redis:")
    throw refuse(`the scheme ${url.protocol.slice(0, 20)} is not redis:`);
  if (url.hostname === "") throw refuse("no host");
  if (url.search !== "" || url.hash !== "") throw refuse("no query or fragment is understood");
  const port = url.port === "" ? DEFAULT_PORT : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    throw refuse("the port must be 1-65535");
  const path = url.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d+$/.test(path)) throw refuse("the database must be a number");
  const db = path === "" ? 0 : Number(path);
  if (db > MAX_DB) throw refuse("the database number is too large");
  const decode = (text: string) => {
    if (text === "") return undefined;
    try {
      return decodeURIComponent(text);
    } catch {
      return text; // a stray `%` is taken as written
    }
  };
  // An IPv6 host keeps its brackets in `host`, not in `hostname`.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  return {
    host,
    port,
    db,
    username: decode(url.username),
    password: decode(url.password) ?? (env[REDIS_PASSWORD_ENV] || undefined),
    display: `redis://${url.hostname}:${port}/${db}`,
  };
}

/** `--state`: local files (the lock dir), or a Redis and the prefix of its keys. */
export type StateLocation =
  | { kind: "local" }
  | { kind: "redis"; redis: RedisLocation; prefix: string };

/** `--state` and `--state-prefix`, checked: a bad value is a `UsageError` naming its flag. */
export function stateLocationOf(
  state: string | undefined,
  prefix: string | undefined,
  env: NodeJS.ProcessEnv = {},
): StateLocation {
  if (state === undefined) {
    if (prefix !== undefined)
      throw new UsageError("--state-prefix", "--state-prefix applies only with --state redis://…");
    return { kind: "local" };
  }
  const given = prefix ?? defaultOf<string>("statePrefix");
  if (given === "") throw new UsageError("--state-prefix", "--state-prefix is empty");
  // One deployment, however its prefix is written: `dep` and `dep:` share one queue (BullMQ adds
  // the `:` itself), so they must share one state too, or their leases would not see each other.
  const keyPrefix = given.endsWith(":") ? given : `${given}:`;
  return { kind: "redis", redis: parseRedisLocation(state, "--state", env), prefix: keyPrefix };
}

/**
 * The passwords the Redis URLs `urls` (`--state`, `--queue`; undefined when not given) use, as
 * written and as decoded: each URL's own, and `env[REDIS_PASSWORD_ENV]` where a URL has none.
 * Only passwords: a Redis user name (`default` more often than not) is no secret, and scrubbing
 * it would corrupt log lines and the results document; so would scrubbing the environment's
 * password from a run that uses no Redis (`data` → `***`).
 */
export function redisPasswordsOf(
  urls: ReadonlyArray<string | undefined>,
  env: NodeJS.ProcessEnv,
): string[] {
  const given = urls.filter((url): url is string => url !== undefined);
  const own = given.map(passwordsOfUrl);
  const fromEnv = env[REDIS_PASSWORD_ENV];
  const usesEnv =
    fromEnv !== undefined && fromEnv !== "" && own.some((found) => found.length === 0);
  return [...own.flat(), ...(usesEnv ? [fromEnv] : [])];
}

/** The password of `text` as written and as decoded; none when it is no URL or has none. */
function passwordsOfUrl(text: string): string[] {
  try {
    const { password } = new URL(text);
    if (!password) return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // a malformed escape: the option check refuses it, and the raw form is redacted meanwhile
    }
    return [password, decoded];
  } catch {
    return [];
  }
}
