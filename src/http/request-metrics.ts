// Request counts by route and status, and latency histograms, for /metrics: recorded by fastify's onResponse
// hook and by the device fast path (mdm-fast-path.ts), into the same series.
import type { FastifyInstance } from "fastify";
import { labelSet, type MetricsRegistry } from "../metrics/registry.ts";

/** Records one answered request; `route` is the route pattern, not the URL, so that ids don't explode the label set. */
export type RecordRequest = (method: string, route: string, status: number, seconds: number) => void;

export function requestRecorder(registry: MetricsRegistry): RecordRequest {
  const requests = registry.counter("orchard_http_requests_total", "HTTP requests by method, route and status.");
  const latency = registry.histogram("orchard_http_request_duration_seconds", "HTTP request latency by route.", [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ]);
  // One label set per method, route and status, reused: this runs on every device connect.
  const labelSets = new Map<string, { requests: Readonly<Record<string, string>>; latency: Readonly<Record<string, string>> }>();
  return (method, route, status, seconds) => {
    const id = `${method} ${status} ${route}`;
    let labels = labelSets.get(id);
    if (labels === undefined) {
      labels = { requests: labelSet({ method, route, status: String(status) }), latency: labelSet({ method, route }) };
      labelSets.set(id, labels);
    }
    requests.inc(labels.requests);
    latency.observe(seconds, labels.latency);
  };
}

export function installRequestMetrics(app: FastifyInstance, record: RecordRequest): void {
  app.addHook("onResponse", (req, reply, done) => {
    record(req.method, req.routeOptions.url ?? "unmatched", reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
