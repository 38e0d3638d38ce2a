// The dependency rules of DESIGN.md ("Routes never touch SQL; services never touch HTTP objects; the store never
// makes policy decisions"), checked on the source tree so that a break fails the build with its file and line
// instead of waiting for a reviewer to notice. Each source file is parsed with TypeScript (not grepped), so
// comments and strings that mention `store.db` do not count and multi-line imports do.
//
// What is walked: every .ts file under src/ except *.test.ts. Exempt, and why:
// - tests (src/**/*.test.ts, test/): they set up states no service offers (drop an index, force a plan) and
//   check rows directly; they are not part of the running server.
// - bench/, scripts/, sim/: outside src/, not part of the server; a benchmark truncates tables between runs,
//   and the simulator is a device, not a client of Orchard's store.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

interface SourceFile {
  /** Repository-relative, with forward slashes: src/auth/api-tokens.ts. */
  path: string;
  ast: ts.SourceFile;
}

interface Import {
  /** The imported file, repository-relative (src/http/app.ts), or the package name (kysely). */
  target: string;
  typeOnly: boolean;
  line: number;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out;
}

function sources(): SourceFile[] {
  return walk(join(ROOT, "src")).map((full) => ({
    path: relative(ROOT, full).split(sep).join("/"),
    ast: ts.createSourceFile(full, readFileSync(full, "utf8"), ts.ScriptTarget.ES2022, true),
  }));
}

const lineOf = (f: SourceFile, node: ts.Node) => f.ast.getLineAndCharacterOfPosition(node.getStart(f.ast)).line + 1;

function resolveSpecifier(from: string, spec: string): string {
  if (!spec.startsWith(".")) return spec;
  return join(dirname(from), spec).split(sep).join("/");
}

/** Static imports and re-exports, and dynamic import() calls, of one file. */
function importsOf(f: SourceFile): Import[] {
  const out: Import[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ target: resolveSpecifier(f.path, node.moduleSpecifier.text), typeOnly: node.importClause?.isTypeOnly ?? false, line: lineOf(f, node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push({ target: resolveSpecifier(f.path, node.moduleSpecifier.text), typeOnly: node.isTypeOnly, line: lineOf(f, node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      out.push({ target: resolveSpecifier(f.path, node.arguments[0].text), typeOnly: false, line: lineOf(f, node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      // `import("../http/app.ts").X` in a type position is a dependency too.
      out.push({ target: resolveSpecifier(f.path, node.argument.literal.text), typeOnly: true, line: lineOf(f, node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(f.ast);
  return out;
}

/** What code calls a Store or Tx; `<one of these>.db` is the kysely handle behind it. */
const EXECUTOR_NAMES = new Set(["store", "tx", "trx", "executor"]);
const QUERY_BUILDERS = new Set(["selectFrom", "insertInto", "updateTable", "deleteFrom", "replaceInto", "mergeInto"]);

/**
 * Places where a file reaches the database itself: the kysely handle of a store or transaction (`store.db`,
 * `ctx.store.db`, `tx.db`), a query builder on anything (`db.selectFrom(…)` and friends: kysely's names), sql`…`.
 */
function queriesOf(f: SourceFile): Array<{ line: number; what: string }> {
  const out: Array<{ line: number; what: string }> = [];
  const visit = (node: ts.Node) => {
    if (ts.isPropertyAccessExpression(node)) {
      const name = node.name.text;
      const target = node.expression;
      const receiver = ts.isPropertyAccessExpression(target) ? target.name.text : ts.isIdentifier(target) ? target.text : undefined;
      if (name === "db" && receiver !== undefined && EXECUTOR_NAMES.has(receiver)) out.push({ line: lineOf(f, node), what: node.getText(f.ast) });
      else if (QUERY_BUILDERS.has(name)) out.push({ line: lineOf(f, node), what: `.${name}(…)` });
    } else if (ts.isTaggedTemplateExpression(node) && ts.isIdentifier(node.tag) && node.tag.text === "sql") {
      out.push({ line: lineOf(f, node), what: "sql`…`" });
    }
    ts.forEachChild(node, visit);
  };
  visit(f.ast);
  for (const imp of importsOf(f)) if (imp.target === "kysely" || imp.target.startsWith("kysely/")) out.push({ line: imp.line, what: `import from "${imp.target}"` });
  // `this.store.db.selectFrom(…)` is one finding, not two.
  const seen = new Set<number>();
  return out.filter((q) => !seen.has(q.line) && seen.add(q.line)).sort((a, b) => a.line - b.line);
}

const under = (path: string, dirs: string[]) => dirs.some((d) => path.startsWith(`src/${d}/`));
const isModuleFile = (path: string) => /(^|\/)(module|[\w.-]+-module)\.ts$/.test(path);

/** Layers below HTTP: they serve any front end (routes, CLI, jobs) and must not know fastify's. */
const BELOW_HTTP = ["mdm", "store", "wire", "pki", "push", "events", "jobs", "manage", "auth"];
/** Layers above the store: the store is called by them, never the other way round. */
const SERVICE_LAYERS = ["mdm", "manage", "push", "events", "http"];

function dependencyViolations(files: SourceFile[]): string[] {
  const problems: string[] = [];
  for (const f of files) {
    if (!f.path.startsWith("src/store/")) {
      for (const q of queriesOf(f)) problems.push(`${f.path}:${q.line}: ${q.what} outside src/store/ (move the query into a store function taking an Executor)`);
    }
    for (const imp of importsOf(f)) {
      if (under(f.path, BELOW_HTTP) && !isModuleFile(f.path) && imp.target.startsWith("src/http/")) {
        problems.push(`${f.path}:${imp.line}: imports ${imp.target}; only a concept's module.ts (or *-module.ts) may know src/http/`);
      }
      if (f.path.startsWith("src/store/") && under(imp.target, SERVICE_LAYERS)) {
        problems.push(`${f.path}:${imp.line}: the store imports ${imp.target} from a service layer; types the store needs belong in src/store/`);
      }
      if (f.path.startsWith("src/http/api/") && imp.target.startsWith("src/store/") && !imp.typeOnly) {
        problems.push(`${f.path}:${imp.line}: a route imports ${imp.target}; routes call services (an \`import type\` is allowed)`);
      }
    }
  }
  return problems;
}

describe("architecture: one data layer, dependencies pointing down", () => {
  const files = sources();

  it("walks the real tree", () => {
    // A walk that found nothing would pass every rule.
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.path === "src/store/db.ts")).toBe(true);
  });

  it("no queries outside src/store/, no layer below HTTP importing src/http/, no store importing a service, no route importing the store", () => {
    expect(dependencyViolations(files)).toEqual([]);
  });

  it("the checks catch what they are meant to catch", () => {
    const parse = (path: string, text: string): SourceFile => ({ path, ast: ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true) });
    const found = dependencyViolations([
      parse("src/auth/x.ts", 'import { sql } from "kysely";\nawait this.store.db.selectFrom("t");\nawait tx.db\n  .insertInto("t");\nsql`select 1`;\n// store.db in a comment\nconst s = "ctx.store.db";\n'),
      parse("src/events/v.ts", 'const db = handle;\nawait db.deleteFrom("t").execute();\nawait save(ctx.store.db);\n'),
      parse("src/manage/y.ts", 'import type { FastifyInstance } from "fastify";\nimport { ApiError } from "../http/errors.ts";\n'),
      parse("src/manage/module.ts", 'import { routes } from "../http/api/x-routes.ts";\n'),
      parse("src/store/z.ts", 'import type { CommandService } from "../mdm/commands.ts";\nimport { sql } from "kysely";\nsql`select 1`;\n'),
      parse("src/http/api/w-routes.ts", 'import type { Store } from "../../store/db.ts";\nimport { listIssued } from "../../store/issued-certificates.ts";\n'),
    ]);
    expect(found).toEqual([
      'src/auth/x.ts:1: import from "kysely" outside src/store/ (move the query into a store function taking an Executor)',
      "src/auth/x.ts:2: .selectFrom(…) outside src/store/ (move the query into a store function taking an Executor)",
      "src/auth/x.ts:3: .insertInto(…) outside src/store/ (move the query into a store function taking an Executor)",
      "src/auth/x.ts:5: sql`…` outside src/store/ (move the query into a store function taking an Executor)",
      "src/events/v.ts:2: .deleteFrom(…) outside src/store/ (move the query into a store function taking an Executor)",
      "src/events/v.ts:3: ctx.store.db outside src/store/ (move the query into a store function taking an Executor)",
      "src/manage/y.ts:2: imports src/http/errors.ts; only a concept's module.ts (or *-module.ts) may know src/http/",
      "src/store/z.ts:1: the store imports src/mdm/commands.ts from a service layer; types the store needs belong in src/store/",
      "src/http/api/w-routes.ts:2: a route imports src/store/issued-certificates.ts; routes call services (an `import type` is allowed)",
    ]);
  });
});
