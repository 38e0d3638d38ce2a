import { expect, it } from "vitest";
import { createLogger, logDestination } from "./logger.ts";
import { prettyDestination, prettyLine } from "./pretty-stream.ts";

const at = new Date(2026, 11, 4, 9, 5, 7, 42).getTime(); // local time, as the formatter prints it

it("prints a request as one line: time, level, method, url, status, duration, then the other fields", () => {
  const line = JSON.stringify({ level: 30, time: at, pid: 1, hostname: "h", reqId: "r-1", method: "GET", url: "/api/v1/tokens", status: 200, ms: 3.1, msg: "request completed" });
  expect(prettyLine(line)).toBe("09:05:07.042 INFO  GET /api/v1/tokens 200 3.1 ms reqId=r-1");
});

it("prints other events as their message and key=value fields, quoting only what needs it, and an error's stack below", () => {
  expect(prettyLine(JSON.stringify({ level: 40, time: at, msg: "ignoring an ORCHARD_ variable", variable: "ORCHARD_LISTEN_PORT", n: 2, ok: true, o: { a: 1 } }))).toBe(
    '09:05:07.042 WARN  ignoring an ORCHARD_ variable variable=ORCHARD_LISTEN_PORT n=2 ok=true o={"a":1}',
  );
  expect(prettyLine(JSON.stringify({ level: 50, time: at, msg: "job failed", reason: "two words", err: { type: "Error", message: "boom", stack: "Error: boom\n    at x (y.ts:1:1)" } }))).toBe(
    '09:05:07.042 ERROR job failed reason="two words" err=boom\n    Error: boom\n        at x (y.ts:1:1)',
  );
  expect(prettyLine("not json\n")).toBe("not json");
  expect(prettyLine(JSON.stringify({ level: 30, time: at, msg: "hi" }), { color: true })).toBe("09:05:07.042 \x1b[32mINFO \x1b[0m hi");
});

it("as pino's destination, prints what pino made, so redaction has already happened", () => {
  let out = "";
  const logger = createLogger("info", prettyDestination({ write: (s: string) => (out += s) }));
  logger.info({ token: { token: "orch_secret" }, req: { headers: { authorization: "Bearer orch_secret" } } }, "hello");
  logger.debug("below the level");
  expect(out.split("\n")).toHaveLength(2);
  expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  hello /);
  expect(out).not.toContain("orch_secret");
});

it("is chosen for a terminal or when asked, JSON otherwise or when asked", () => {
  const tty = { isTTY: true, write: () => true } as unknown as NodeJS.WriteStream;
  const pipe = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
  expect(logDestination("auto", tty)).toBeDefined();
  expect(logDestination("auto", pipe)).toBeUndefined();
  expect(logDestination("json", tty)).toBeUndefined();
  expect(logDestination("pretty", pipe)).toBeDefined();
});
