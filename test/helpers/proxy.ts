/**
 * A real tinyproxy (Debian's) on 127.0.0.1, started for a test with a config of its own: a free
 * port, optional Basic auth, its log kept so a test can see what went through it. `start()`
 * resolves `undefined` when tinyproxy is not installed (the test then skips, saying so).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";

export const TINYPROXY = "/usr/bin/tinyproxy";
export const hasTinyproxy = spawnSync(TINYPROXY, ["-v"]).status === 0;

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` now. */
export async function accepting(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

export class Tinyproxy {
  private constructor(
    readonly port: number,
    readonly child: ChildProcess,
    readonly logPath: string,
  ) {}

  /** `dir` must be a fresh temp folder; `auth` makes the proxy demand Basic credentials. */
  static async start(dir: string, auth?: { user: string; password: string }): Promise<Tinyproxy> {
    const port = await freePort();
    const logPath = join(dir, "tinyproxy.log");
    await writeFile(logPath, "");
    await chmod(dir, 0o777);
    await chmod(logPath, 0o666);
    const conf = join(dir, "tinyproxy.conf");
    const root = process.getuid?.() === 0;
    await writeFile(
      conf,
      [
        ...(root ? ["User nobody", "Group nogroup"] : []),
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 60",
        "Allow 127.0.0.1",
        `LogFile "${logPath}"`,
        "LogLevel Connect",
        "MaxClients 50",
        'ViaProxyName "tinyproxy"',
        ...(auth ? [`BasicAuth ${auth.user} ${auth.password}`] : []),
        "",
      ].join("\n"),
    );
    const child = spawn(TINYPROXY, ["-d", "-c", conf], { stdio: "ignore" });
    const proxy = new Tinyproxy(port, child, logPath);
    // Bounded: 200 tries, each a connect attempt, about 10 ms apart.
    for (let i = 0; i < 200; i += 1) {
      if (child.exitCode !== null) throw new Error(`tinyproxy exited with ${child.exitCode}`);
      if (await accepting(port)) return proxy;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill("SIGKILL");
    throw new Error("tinyproxy did not start listening within 2 s");
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async log(): Promise<string> {
    return readFile(this.logPath, "utf8");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill("SIGTERM");
    await once(this.child, "exit");
  }
}
