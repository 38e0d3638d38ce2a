// node:http2's ClientHttp2Session.request() wraps every request in `AsyncResource.prototype.bind`, and Node 20's
// bind also defines the deprecated (DEP0172) `asyncResource` accessor on the bound function, built from two
// `deprecate()` wrappers whose prototypes are rewritten one by one. Measured in a push worker that is a fifth
// of its CPU per push. This replaces bind, in the realm that calls it, with the same binding minus that accessor.
// Only the push worker threads call it: their realm holds nothing but the APNs client, and nothing there reads
// `bound.asyncResource`. Where Node no longer defines the accessor the original is kept.
import { AsyncResource } from "node:async_hooks";

type Bind = typeof AsyncResource.prototype.bind;

export function installLeanAsyncBind(): boolean {
  const probe = new AsyncResource("OrchardProbe").bind(() => undefined);
  if (Object.getOwnPropertyDescriptor(probe, "asyncResource") === undefined) return false;
  const lean = function bind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) {
    if (typeof fn !== "function") throw new TypeError(`The "fn" argument must be of type function. Received ${typeof fn}`);
    if (thisArg !== undefined) return this.runInAsyncScope.bind(this, fn, thisArg);
    const run = this.runInAsyncScope.bind(this);
    // Anonymous: under tsx a named function expression is renamed through a helper each time it is created.
    return function (this: unknown, ...args: unknown[]) {
      return run(fn, this, ...args);
    };
  };
  AsyncResource.prototype.bind = lean as unknown as Bind;
  return true;
}
