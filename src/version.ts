import { existsSync, readFileSync } from "node:fs";

// The sources run from src/ (tsx) or from dist/src/ (the build): the package's own package.json is the nearest one
// above this file in both.
function packageJsonUrl(): URL {
  for (const rel of ["../package.json", "../../package.json"]) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(url)) return url;
  }
  throw new Error("package.json not found above src/version");
}

export const VERSION: string = (JSON.parse(readFileSync(packageJsonUrl(), "utf8")) as { version: string }).version;
