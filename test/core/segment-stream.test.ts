/**
 * A segment's body from our HTTP client is lent to the segment's writer, not streamed: the
 * client's receive slots come back once written and are read into again, so eight segments of a
 * large file hold a few megabytes, not every slot they ever read (185 MiB of RSS for 8 × 32 MiB
 * before). Against a real socket, a real file and the real positional writer.
 */
import assert from "node:assert/strict";
import { constants } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { type SegmentState, streamSegment } from "../../src/core/segment-stream.js";
import { PositionalWriter } from "../../src/destinations/local/positional-writer.js";
import { OpenFile } from "../../src/fs/open-file.js";
import { describeHttpError } from "../../src/sources/http/errors.js";
import { H1Agent } from "../../src/sources/http/h1/agent.js";
import { SLOT_BYTES } from "../../src/sources/http/h1/buffers.js";
import { rawServer } from "../helpers/raw-server.js";
import { bytes } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const MiB = 1024 * 1024;

test("segments lend their bodies: the file is exact and the client's slots are reused", async (t) => {
  const body = bytes(32 * MiB, 77);
  const segments = 4;
  const span = body.length / segments;
  // Answers each request with its `Range`, as fast as the client takes it.
  const server = await rawServer(t, async (socket: Socket, request: string) => {
    const [, from, to] = /range: bytes=(\d+)-(\d+)/i.exec(request) ?? [];
    const start = Number(from);
    const end = Number(to) + 1;
    socket.write(
      `HTTP/1.1 206 Partial Content\r\nContent-Length: ${end - start}\r\n` +
        `Content-Range: bytes ${start}-${end - 1}/${body.length}\r\n\r\n`,
    );
    for (let at = start; at < end && !socket.destroyed; at += 256 * 1024) {
      if (!socket.write(body.subarray(at, Math.min(end, at + 256 * 1024))))
        await new Promise((resolve) => socket.once("drain", resolve));
    }
  });
  const agent = new H1Agent({ timeoutMs: 5000 });
  t.after(() => agent.close());
  const path = join(await tempDir(t), "part.bin");
  const file = await OpenFile.open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
  t.after(() => file.close());
  const part = new PositionalWriter(file);
  await part.allocate(body.length);
  const signal = new AbortController().signal;
  const source = { describeError: (error: unknown) => describeHttpError(error, "x") };

  await Promise.all(
    Array.from({ length: segments }, async (_, index) => {
      const start = index * span;
      const end = start + span;
      const writer = part.writerAt(start, () => {});
      const state: SegmentState = {
        index,
        start,
        end,
        pushed: start,
        written: start,
        recorded: start,
        writer,
      };
      const response = await agent.request(new URL(server.url("/")), {
        method: "GET",
        headers: { range: `bytes=${start}-${end - 1}` },
        signal,
      });
      await streamSegment(response.body, state, {
        source,
        signal,
        offer: () => {},
        onChunk: () => {},
      });
      await writer.flush();
    }),
  );

  assert.ok((await readFile(path)).equals(body), "the file is the body, byte for byte");
  // Streamed, every slot read into was handed on for good: 32 MiB needed 512 of them.
  const slots = agent.slots.made;
  assert.ok(
    slots * SLOT_BYTES < body.length / 4,
    `${slots} slots for ${body.length} bytes: reused`,
  );
});
