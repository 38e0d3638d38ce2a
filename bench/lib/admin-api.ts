// Admin API and operator calls (enrollment profiles, commands, /metrics), each on a fresh connection: these
// calls are minutes apart, and a pooled keep-alive socket the server has just closed would fail a POST that
// cannot safely be retried.
import { request } from "node:http";

export interface ApiResponse {
  status: number;
  body: Buffer;
  json<T>(): T;
}

export function apiCall(baseUrl: string, method: string, path: string, opts: { token?: string; json?: unknown; timeoutMs?: number } = {}): Promise<ApiResponse> {
  const base = new URL(baseUrl);
  const payload = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json));
  const headers: Record<string, string> = {
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
    ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, method, path, headers, agent: false, timeout: opts.timeoutMs ?? 120_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, body, json: <T>() => JSON.parse(body.toString("utf8")) as T });
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer in ${opts.timeoutMs ?? 120_000} ms`)));
    req.on("error", reject);
    req.end(payload);
  });
}

/** V8 heap in use in the server, from its Prometheus /metrics (undefined if the gauge is not there). */
export async function serverHeapUsedBytes(baseUrl: string): Promise<number | undefined> {
  const r = await apiCall(baseUrl, "GET", "/metrics", { timeoutMs: 10_000 });
  const m = /^nodejs_heap_used_bytes(?:\{\})? ([0-9.e+]+)$/m.exec(r.body.toString());
  return m ? Number(m[1]) : undefined;
}
