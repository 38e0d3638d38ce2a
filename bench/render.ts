// Renders latest.md and latest.svg again from latest.json, without measuring anything: for changes to the report's
// layout. `node bin/run-ts.js bench/render.ts [DIR]` (default bench/results).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { renderChart } from "./report/chart-svg.ts";
import { renderMarkdown } from "./report/markdown.ts";
import type { BenchReport } from "./report/report.ts";

const dir = resolve(process.argv[2] ?? "bench/results");
const report = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8")) as BenchReport;
if (report.suite !== "orchard-bench" || report.schemaVersion !== 1) throw new Error(`${join(dir, "latest.json")} is not an orchard-bench report (schema 1)`);
writeFileSync(join(dir, "latest.md"), renderMarkdown(report));
const svg = renderChart(report);
if (svg) writeFileSync(join(dir, "latest.svg"), svg);
console.log(`rendered ${join(dir, "latest.md")}${svg ? " and latest.svg" : ""}`);
