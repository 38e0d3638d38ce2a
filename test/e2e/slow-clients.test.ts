// Slow clients cannot hold sockets: on every listener `orchard serve` runs (HTTPS and plain HTTP), a client
// that trickles its body, declares a body and stalls, trickles its headers, or connects and sends nothing is
// answered 408 and closed once ORCHARD_REQUEST_TIMEOUT_SECONDS has passed, on the device routes (whose body
// the fast path reads itself) as on the admin API. A keep-alive connection waiting between requests is not.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type OrchardConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log/logger.ts";
import { startServer, type RunningServer } from "../../src/server/serve.ts";

const BOUND_S = 1;
/** Node checks for requests past their bound every BOUND/10 here; the rest is scheduling on a busy machine. */
const CLOSED_WITHIN_MS = BOUND_S * 1000 + 1_500;

interface Outcome {
  closedAfterMs: number;
  received: string;
}

type Step = { write: string } | { wait: number };

/**
 * Opens a connection, runs the steps (writes and pauses; a trickle is many of them), then waits; resolves when
 * the server closes the connection, with what it sent. Stops its own writing once the connection is gone.
 */
function slowClient(open: () => Socket, steps: Step[]): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = open();
    let received = "";
    let closed = false;
    let started = 0;
    socket.on("data", (c: Buffer) => (received += c.toString("latin1")));
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      resolve({ closedAfterMs: performance.now() - started, received });
    });
    socket.once(socket.constructor.name === "TLSSocket" ? "secureConnect" : "connect", async () => {
      started = performance.now();
      for (const step of steps) {
        if (closed) return;
        if ("write" in step) socket.write(step.write);
        else await new Promise((r) => setTimeout(r, step.wait));
      }
    });
  });
}

/** One character every `everyMs`: far longer than the bound in all. */
function trickle(text: string, everyMs: number): Step[] {
  return [...text].flatMap((ch) => [{ write: ch }, { wait: everyMs }]);
}

const deviceHead = (length: number) => `PUT /mdm/connect HTTP/1.1\r\nHost: orchard.test\r\nContent-Type: application/x-apple-aspen-mdm-checkin\r\nContent-Length: ${length}\r\n\r\n`;
/** With a valid admin token, so that the API reads the body (a bad token is answered before it). */
let adminToken = "";
const apiHead = (length: number) => `POST /api/v1/tokens HTTP/1.1\r\nHost: orchard.test\r\nAuthorization: Bearer ${adminToken}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

describe("slow clients", () => {
  let server: RunningServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orchard-slow-"));
    const config: OrchardConfig = {
      ...loadConfig({ ORCHARD_DATA_DIR: dir, ORCHARD_MASTER_KEY: randomBytes(32).toString("base64"), ORCHARD_PUBLIC_URL: "https://localhost:8443" }),
      httpsPort: 0,
      httpPort: 0,
      host: "127.0.0.1",
      requestTimeoutSeconds: BOUND_S,
    };
    server = await startServer(config, { logger: createLogger("silent") });
    adminToken = (await server.ctx.tokens.create("slow-client-test", "admin", "system:test")).token;
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const plain = () => netConnect(server.httpPort!, "127.0.0.1");
  const tls = () => tlsConnect({ host: "127.0.0.1", port: server.httpsPort, ca: server.caPem, servername: "localhost" });

  // Steps are built when the test runs, once the admin token exists.
  const cases: Array<[string, () => Socket, () => Step[]]> = [
    ["plain HTTP, device route, body trickled a byte every 200 ms", plain, () => [{ write: deviceHead(200) }, ...trickle("x".repeat(200), 200)]],
    ["plain HTTP, device route, body declared and stalled", plain, () => [{ write: deviceHead(5000) }, { write: "<?xml version" }]],
    ["plain HTTP, admin API, body trickled", plain, () => [{ write: apiHead(200) }, ...trickle("x".repeat(200), 200)]],
    ["plain HTTP, admin API, body declared and stalled", plain, () => [{ write: apiHead(5000) }, { write: "{" }]],
    ["plain HTTP, headers trickled", plain, () => trickle(deviceHead(10), 200)],
    ["plain HTTP, connected and silent", plain, () => []],
    ["HTTPS, device route, body trickled", tls, () => [{ write: deviceHead(200) }, ...trickle("x".repeat(200), 200)]],
    ["HTTPS, device route, body declared and stalled", tls, () => [{ write: deviceHead(5000) }, { write: "<?xml version" }]],
    ["HTTPS, admin API, body trickled", tls, () => [{ write: apiHead(200) }, ...trickle("x".repeat(200), 200)]],
    ["HTTPS, connected and silent", tls, () => []],
  ];

  it("answers 408 and closes every one within the bound, all at once", async () => {
    // Several of each at the same time, as a slowloris would.
    const runs = cases.flatMap(([name, open, steps]) => Array.from({ length: 5 }, () => slowClient(open, steps()).then((o) => ({ name, ...o }))));
    const outcomes = await Promise.all(runs);
    for (const o of outcomes) {
      expect(o.closedAfterMs, o.name).toBeGreaterThanOrEqual(BOUND_S * 1000 - 100);
      expect(o.closedAfterMs, o.name).toBeLessThan(CLOSED_WITHIN_MS);
      expect(o.received, o.name).toMatch(/^HTTP\/1\.1 408 /);
    }
    // The server still serves.
    expect((await fetch(`http://127.0.0.1:${server.httpPort}/healthz`)).status).toBe(200);
  }, 30_000);

  it("keeps a keep-alive connection open between requests, and a request sent in time is answered", async () => {
    const socket = plain();
    let received = "";
    socket.on("data", (c: Buffer) => (received += c.toString("latin1")));
    await new Promise((r) => socket.once("connect", r));
    const get = "GET /healthz HTTP/1.1\r\nHost: orchard.test\r\n\r\n";
    const answered = async (n: number) => {
      const deadline = Date.now() + 5_000;
      while ((received.match(/HTTP\/1\.1 200 /g) ?? []).length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return (received.match(/HTTP\/1\.1 200 /g) ?? []).length;
    };
    socket.write(get);
    expect(await answered(1)).toBe(1);
    // Idle well past the request bound: the connection waits for the next request (keep-alive is 72 s).
    await new Promise((r) => setTimeout(r, BOUND_S * 1000 * 2 + 500));
    expect(socket.destroyed).toBe(false);
    socket.write(get);
    expect(await answered(2)).toBe(2);
    socket.destroy();
  }, 15_000);

  it("reads the bound from ORCHARD_REQUEST_TIMEOUT_SECONDS (60 s by default) and refuses a bad value", () => {
    expect(loadConfig({}).requestTimeoutSeconds).toBe(60);
    expect(loadConfig({ ORCHARD_REQUEST_TIMEOUT_SECONDS: "90" }).requestTimeoutSeconds).toBe(90);
    expect(() => loadConfig({ ORCHARD_REQUEST_TIMEOUT_SECONDS: "0" })).toThrow(/ORCHARD_REQUEST_TIMEOUT_SECONDS/);
  });
});
