import { pbkdf2 } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { expect, it, onTestFinished } from "vitest";
import { Transport } from "./mdm-transport.ts";

it("gives a request its whole timeout while the host name is looked up, not the idle-socket timeout", async () => {
  const server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const transport = new Transport({ idleSocketMs: 50, timeoutMs: 20_000 });
  onTestFinished(() => transport.close());
  // getaddrinfo runs on libuv's threads; a fleet generating keys keeps them busy (here: well past 50 ms, and past
  // the 200 ms the check below needs even on a fast CPU: 400,000 rounds took 197 ms on one machine).
  const busy = Array.from({ length: 8 }, () => promisify(pbkdf2)("x", "y", 1_200_000, 32, "sha256"));
  const started = performance.now();
  const res = await transport.request({ method: "GET", url: `http://localhost:${(server.address() as AddressInfo).port}/` });
  expect(res.status).toBe(200);
  expect(res.body.toString()).toBe("ok");
  // The lookup really waited longer than the idle timeout, so the test shows what it claims.
  expect(performance.now() - started).toBeGreaterThan(200);
  await Promise.all(busy);
});
