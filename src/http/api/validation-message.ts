// One readable sentence from the schema validator's errors. Ajv reports a union of literals as one "must be
// equal to constant" per branch plus "must match a schema in anyOf"; fastify joins them with commas. An admin
// wants `querystring/status must be one of: pending, acknowledged`.
import type { FastifySchemaValidationError } from "fastify";

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** The values a failed branch would have accepted, when the branch is a literal or an enum. */
function acceptedValues(e: FastifySchemaValidationError): unknown[] | undefined {
  if (e.keyword === "const") return [e.params.allowedValue];
  if (e.keyword === "enum" && Array.isArray(e.params.allowedValues)) return e.params.allowedValues;
  return undefined;
}

function describe(e: FastifySchemaValidationError): string {
  switch (e.keyword) {
    case "const":
    case "enum":
      return `must be one of: ${(acceptedValues(e) ?? []).map(show).join(", ")}`;
    case "additionalProperties":
      return `has an unknown field: ${show(e.params.additionalProperty)}`;
    case "required":
      return `is missing the field ${show(e.params.missingProperty)}`;
    default:
      return e.message ?? `fails ${e.keyword}`;
  }
}

/**
 * `context` is fastify's validationContext (body, querystring, params, headers). Branch errors of an anyOf/oneOf
 * are folded into the union's error; what remains is joined with "; ".
 */
export function validationMessage(context: string | undefined, errors: readonly FastifySchemaValidationError[]): string {
  const where = (e: FastifySchemaValidationError) => `${context ?? "request"}${e.instancePath}`;
  const unions = errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf");
  const inUnion = (e: FastifySchemaValidationError, u: FastifySchemaValidationError) => e !== u && e.schemaPath.startsWith(`${u.schemaPath}/`);
  const sentences: string[] = [];
  for (const u of unions) {
    const branches = errors.filter((e) => inUnion(e, u));
    const values = branches.map(acceptedValues);
    if (branches.length && values.every((v) => v !== undefined)) {
      sentences.push(`${where(u)} must be one of: ${[...new Set(values.flat().map(show))].join(", ")}`);
    } else if (branches.length) {
      sentences.push(`${where(u)} ${[...new Set(branches.map(describe))].join(" or ")}`);
    } else {
      sentences.push(`${where(u)} ${describe(u)}`);
    }
  }
  for (const e of errors) {
    if (unions.includes(e) || unions.some((u) => inUnion(e, u))) continue;
    sentences.push(`${where(e)} ${describe(e)}`);
  }
  return [...new Set(sentences)].join("; ");
}
