// Request counts by route and status, and latency histograms, for /metrics.
import type { FastifyInstance } from "fastify";
import { labelSet, type MetricsRegistry } from "../metrics/registry.ts";

export function installRequestMetrics(app: FastifyInstance, registry: MetricsRegistry): void {
  const requests = registry.counter("orchard_http_requests_total", "HTTP requests by method, route and status.");
  const latency = registry.histogram("orchard_http_request_duration_seconds", "HTTP request latency by route.", [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ]);
  // One label set per method, route and status, reused: this runs on every device connect.
  const labelSets = new Map<string, { requests: Readonly<Record<string, string>>; latency: Readonly<Record<string, string>> }>();
  app.addHook("onResponse", (req, reply, done) => {
    // The route pattern, not the URL, so that ids don't explode the label set.
    const route = req.routeOptions.url ?? "unmatched";
    const status = String(reply.statusCode);
    const id = `${req.method} ${status} ${route}`;
    let labels = labelSets.get(id);
    if (labels === undefined) {
      labels = { requests: labelSet({ method: req.method, route, status }), latency: labelSet({ method: req.method, route }) };
      labelSets.set(id, labels);
    }
    requests.inc(labels.requests);
    latency.observe(reply.elapsedTime / 1000, labels.latency);
    done();
  });
}
