// Pagination cursors of the admin API: opaque to clients, base64url of the JSON array of the sort key of the
// last row of a page (e.g. [notAfter, serial]). Encoding the whole sort key lets a page start exactly after
// the previous one even when several rows share the first column. A cursor that does not decode to the
// route's key is a 400: restarting from the first page would make a client loop or miss rows silently.
import { badRequest } from "../errors.ts";

type Part = "string" | "integer";
type KeyOf<S extends readonly Part[]> = { -readonly [K in keyof S]: S[K] extends "string" ? string : number };

export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

function malformed(): never {
  throw badRequest("cursor is malformed: pass the nextCursor of the previous page as it was given");
}

/** The sort key in `cursor`, checked against `shape` (one entry per key column). */
export function decodeCursor<const S extends readonly Part[]>(cursor: string, shape: S): KeyOf<S> {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) malformed();
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    malformed();
  }
  if (!Array.isArray(key) || key.length !== shape.length) malformed();
  const ok = shape.every((part, i) => (part === "string" ? typeof key[i] === "string" : Number.isSafeInteger(key[i])));
  if (!ok) malformed();
  return key as KeyOf<S>;
}

/** decodeCursor for an optional query parameter. */
export function decodeOptionalCursor<const S extends readonly Part[]>(cursor: string | undefined, shape: S): KeyOf<S> | undefined {
  return cursor === undefined ? undefined : decodeCursor(cursor, shape);
}
