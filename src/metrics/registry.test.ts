// The registry's text exposition, and reused label sets counting into the same series as plain label objects.
import { describe, expect, it } from "vitest";
import { MetricsRegistry, labelSet } from "./registry.ts";

describe("metrics registry", () => {
  it("counts a reused label set and a plain label object with the same labels into one series", () => {
    const registry = new MetricsRegistry();
    const c = registry.counter("t_requests_total", "Requests.");
    const h = registry.histogram("t_latency_seconds", "Latency.", [0.1, 1]);
    const set = labelSet({ route: '/a"b', method: "PUT" });
    c.inc(set);
    c.inc({ method: "PUT", route: '/a"b' });
    c.inc(set, 3);
    h.observe(0.05, set);
    h.observe(0.5, { method: "PUT", route: '/a"b' });
    expect(c.get({ route: '/a"b', method: "PUT" })).toBe(5);
    const text = registry.render();
    expect(text).toContain('t_requests_total{method="PUT",route="/a\\"b"} 5');
    expect(text).toContain('t_latency_seconds_bucket{method="PUT",route="/a\\"b",le="0.1"} 1');
    expect(text).toContain('t_latency_seconds_count{method="PUT",route="/a\\"b"} 2');
    expect(Object.isFrozen(set)).toBe(true);
  });
});
