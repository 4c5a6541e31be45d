/**
 * Network namespaces for tests of real network faults: a namespace of the test's own, with its
 * own loopback, where a server and the CLI run and where iptables can cut the link between them
 * (connects then fail at once with EHOSTUNREACH, and a connection's packets vanish) and restore
 * it. Needs root, `ip` (iproute2) and `iptables`; `netnsUnavailable()` says why not, for skips.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  const probe = `rs-probe-${randomBytes(3).toString("hex")}`;
  try {
    execFileSync("ip", ["netns", "add", probe], { stdio: "ignore" });
  } catch {
    return "cannot create a network namespace (ip netns add failed; iproute2 missing or no CAP_SYS_ADMIN)";
  }
  try {
    execFileSync("ip", ["netns", "exec", probe, "iptables", "-S"], { stdio: "ignore" });
  } catch {
    return "iptables does not work in a network namespace (apt-get install iptables)";
  } finally {
    execFileSync("ip", ["netns", "del", probe], { stdio: "ignore" });
  }
  return undefined;
}

/** One namespace, removed by `close()`. */
export class Netns {
  readonly name: string;
  #cuts: string[][] = [];
  #links: string[] = [];

  constructor() {
    this.name = `rs-test-${process.pid}-${randomBytes(3).toString("hex")}`;
    execFileSync("ip", ["netns", "add", this.name]);
    this.run("ip", "link", "set", "lo", "up");
  }

  /** The prefix that runs a command inside (it execs the command: the pid stays the same). */
  get wrapper(): string[] {
    return ["ip", "netns", "exec", this.name];
  }

  run(command: string, ...args: string[]): void {
    execFileSync("ip", ["netns", "exec", this.name, command, ...args], { stdio: "ignore" });
  }

  /**
   * Cuts TCP port `port` both ways: new connects fail with EHOSTUNREACH, the server's packets on
   * open connections are dropped (so a body stalls rather than ends).
   */
  cut(port: number): void {
    const rules = [
      [
        "OUTPUT",
        "-p",
        "tcp",
        "--dport",
        String(port),
        "-j",
        "REJECT",
        "--reject-with",
        "icmp-host-unreachable",
      ],
      ["OUTPUT", "-p", "tcp", "--sport", String(port), "-j", "DROP"],
    ];
    for (const rule of rules) this.run("iptables", "-A", ...rule);
    this.#cuts.push(...rules);
  }

  /**
   * Joins this namespace to `hub` by a veth pair on 10.77.`subnet`.0/24 (here .2, the hub .1)
   * and routes `hubAddress` (an address the hub holds on its loopback, see `holdAddress`)
   * through it, so that every namespace linked to the hub reaches the hub's services by one URL.
   */
  linkTo(hub: Netns, subnet: number, hubAddress: string): void {
    const tag = randomBytes(3).toString("hex");
    const here = `v${tag}a`;
    const there = `v${tag}b`;
    execFileSync("ip", [
      "link",
      "add",
      here,
      "netns",
      this.name,
      "type",
      "veth",
      "peer",
      "name",
      there,
      "netns",
      hub.name,
    ]);
    this.run("ip", "addr", "add", `10.77.${subnet}.2/24`, "dev", here);
    this.run("ip", "link", "set", here, "up");
    hub.run("ip", "addr", "add", `10.77.${subnet}.1/24`, "dev", there);
    hub.run("ip", "link", "set", there, "up");
    this.run("ip", "route", "add", `${hubAddress}/32`, "via", `10.77.${subnet}.1`);
    this.#links.push(here);
  }

  /** Gives this namespace `address` on its loopback: the one address its services are known by. */
  holdAddress(address: string): void {
    this.run("ip", "addr", "add", `${address}/32`, "dev", "lo");
  }

  /** Drops every packet on this namespace's links to other namespaces, both ways: it is cut off. */
  isolate(): void {
    for (const link of this.#links) {
      const rules = [
        ["OUTPUT", "-o", link, "-j", "DROP"],
        ["INPUT", "-i", link, "-j", "DROP"],
      ];
      for (const rule of rules) this.run("iptables", "-A", ...rule);
      this.#cuts.push(...rules);
    }
  }

  /** Undoes every `cut` and `isolate`. */
  restore(): void {
    for (const rule of this.#cuts) this.run("iptables", "-D", ...rule);
    this.#cuts = [];
  }

  close(): void {
    try {
      execFileSync("ip", ["netns", "del", this.name], { stdio: "ignore" });
    } catch {
      // already gone
    }
  }
}

/** A child process that reports JSON lines on stdout: wait for one that matches. */
export class Reporter {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>> = [];

  /** Starts `argv` (command first). */
  constructor(argv: string[]) {
    const [command, ...args] = argv;
    this.child = spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] });
    let rest = "";
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const part of parts) if (part.trim() !== "") this.lines.push(JSON.parse(part));
      this.child.emit("line");
    });
  }

  /** Resolves with the first line `matches` accepts (bounded by `timeoutMs`). */
  async waitFor(
    matches: (line: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const line = this.lines.find(matches);
      if (line) return line;
      if (this.child.exitCode !== null) throw new Error("the reporter exited");
      await once(this.child, "line", { signal });
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    await once(this.child, "close");
  }
}
