import { AsyncResource, executionAsyncId } from "node:async_hooks";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";

// The replacement is installed in a worker thread, as the push workers do, so this test's own realm keeps Node's bind.
function inWorker(code: string): Promise<unknown> {
  const url = new URL("./lean-async-bind.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const src = `import(${JSON.stringify(tsx)}).then(async (t) => { t.register(); const { installLeanAsyncBind } = await import(${JSON.stringify(url)}); const { parentPort } = await import("node:worker_threads"); const { AsyncResource, executionAsyncResource } = await import("node:async_hooks"); ${code} });`;
  return new Promise((resolve, reject) => {
    const w = new Worker(src, { eval: true });
    w.once("message", resolve);
    w.once("error", reject);
  });
}

describe("lean AsyncResource.bind for push workers", () => {
  it("binds like Node's (scope, this, arguments) without the deprecated accessor", async () => {
    const out = await inWorker(`
      const installed = installLeanAsyncBind();
      const r = new AsyncResource("T");
      const seen = [];
      const unbound = r.bind(function (a, b) { seen.push([executionAsyncResource() === r, this?.tag ?? null, a + b]); return a * b; });
      const fixed = r.bind(function () { seen.push([executionAsyncResource() === r, this.tag, 0]); }, { tag: "fixed" });
      const product = unbound.call({ tag: "caller" }, 3, 4);
      fixed.call({ tag: "ignored" });
      let threw = false; try { r.bind(42); } catch (e) { threw = e instanceof TypeError; }
      parentPort.postMessage({ installed, product, seen, accessor: "asyncResource" in unbound, threw });
    `);
    expect(out).toEqual({ installed: true, product: 12, seen: [[true, "caller", 7], [true, "fixed", 0]], accessor: false, threw: true });
  });

  it("leaves the realm that did not install it alone", () => {
    const bound = new AsyncResource("T").bind(() => executionAsyncId());
    expect(Object.getOwnPropertyDescriptor(bound, "asyncResource")).toBeDefined();
  });
});
