/**
 * netrc files (curl's `--netrc`, `--netrc-file`): `machine HOST login USER password PASS`, a
 * `default` entry, `macdef` blocks skipped. Credentials are looked up per host, so they are
 * never sent to another host (a redirect elsewhere asks that host's entry, if any).
 */

export interface NetrcEntry {
  login: string;
  password: string;
}

export interface Netrc {
  /** By host name, lower case. */
  machines: Map<string, NetrcEntry>;
  fallback?: NetrcEntry;
}

/** Parses `text`; calls `refuse(reason)` (which must throw) for a file it cannot make sense of. */
export function parseNetrc(text: string, refuse: (reason: string) => never): Netrc {
  const machines = new Map<string, NetrcEntry>();
  let fallback: NetrcEntry | undefined;
  const lines = text.split(/\r?\n/);
  const tokens: string[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (/^\s*macdef\b/.test(line)) {
      // A macro runs to the next empty line.
      while (i + 1 < lines.length && (lines[i + 1] as string).trim() !== "") i += 1;
      continue;
    }
    const content = line.replace(/(^|\s)#.*$/, "");
    tokens.push(...content.split(/\s+/).filter(Boolean));
  }
  let current: { host?: string; entry: Partial<NetrcEntry> } | undefined;
  const close = () => {
    if (!current) return;
    const { login, password } = current.entry;
    if (login !== undefined && password !== undefined) {
      if (current.host === undefined) fallback ??= { login, password };
      else if (!machines.has(current.host)) machines.set(current.host, { login, password });
    }
    current = undefined;
  };
  for (let i = 0; i < tokens.length; i += 1) {
    const token = tokens[i] as string;
    const next = () => {
      i += 1;
      const value = tokens[i];
      if (value === undefined) refuse(`"${token}" needs a value`);
      return value as string;
    };
    if (token === "machine") {
      close();
      current = { host: next().toLowerCase(), entry: {} };
    } else if (token === "default") {
      close();
      current = { entry: {} };
    } else if (token === "login" || token === "password") {
      if (!current) refuse(`"${token}" before any machine`);
      (current as { entry: Partial<NetrcEntry> }).entry[token] = next();
    } else if (token === "account" || token === "port") {
      next();
    } else {
      // Never the word itself: it may be a password out of place.
      const where = current?.host ? ` in the entry of ${current.host}` : "";
      refuse(
        `an unexpected word${where} (only machine, default, login, password, account, port, macdef)`,
      );
    }
  }
  close();
  return { machines, ...(fallback ? { fallback } : {}) };
}

/** The credentials for `host`: its machine entry, else the default entry. */
export function netrcFor(netrc: Netrc | undefined, host: string): NetrcEntry | undefined {
  return netrc?.machines.get(host.toLowerCase()) ?? netrc?.fallback;
}
