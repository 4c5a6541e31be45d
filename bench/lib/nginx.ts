/** A throwaway nginx on 127.0.0.1 serving a folder, with a config written to a temp dir. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

export interface Nginx {
  url(path: string): string;
  /** Body bytes nginx has sent so far (from its access log). */
  bytesSent(): Promise<number>;
  /** Every request logged so far: body bytes sent, status, the Range asked for ("" for none). */
  requests(): Promise<LoggedRequest[]>;
  stop(): Promise<void>;
}

export interface LoggedRequest {
  bytes: number;
  status: number;
  range: string;
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts nginx (ETag, Last-Modified and Range work out of the box) serving `root`. `extra` adds
 * directives to the `http` block and to the `server` block (a rate limit, say).
 */
export async function startNginx(
  root: string,
  binary = "nginx",
  extra: { http?: string; server?: string } = {},
): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-nginx-"));
  const port = await freePort();
  await writeFile(
    join(dir, "nginx.conf"),
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  log_format bytes '$body_bytes_sent $status "$http_range"';
  access_log ${dir}/access.log bytes;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${extra.http ?? ""}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    ${extra.server ?? ""}
  }
}
`,
  );
  const child: ChildProcess = spawn(binary, ["-p", dir, "-c", join(dir, "nginx.conf")], {
    stdio: "ignore",
  });
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  // Bounded wait for it to answer.
  for (let i = 0; i < 100; i += 1) {
    const ok = await fetch(url("/")).then(
      () => true,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`nginx exited at start (see ${dir}/error.log)`);
    await delay(50);
  }
  const requests = async (): Promise<LoggedRequest[]> => {
    const log = await readFile(join(dir, "access.log"), "utf8").catch(() => "");
    return log.split("\n").flatMap((line) => {
      const match = /^(\d+) (\d+) "([^"]*)"$/.exec(line);
      if (!match) return [];
      const range = match[3] === "-" ? "" : (match[3] as string);
      return [{ bytes: Number(match[1]), status: Number(match[2]), range }];
    });
  };
  return {
    url,
    async bytesSent() {
      return (await requests()).reduce((sum, request) => sum + request.bytes, 0);
    },
    requests,
    async stop() {
      child.kill("SIGQUIT");
      await new Promise((resolve) => child.once("exit", resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
