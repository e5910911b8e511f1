/**
 * The JSON-schema-like `parameters` and `output` of a definition, turned into zod
 * schemas: run input is validated (and defaults applied) before a run starts,
 * and the `output_map` result before it becomes the run's output.
 */
import { z } from "zod";
import type { SchemaNode } from "./definition.js";

function base(node: SchemaNode): z.ZodType<unknown> {
  if (node.enum) {
    const values = node.enum;
    return z.unknown().refine((v) => values.some((e) => JSON.stringify(e) === JSON.stringify(v)), {
      message: `must be one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
    });
  }
  switch (node.type) {
    case "string":
      return z.string();
    case "number":
      return z.number();
    case "integer":
      return z.number().int();
    case "boolean":
      return z.boolean();
    case "array":
      return z.array(node.items ? toZod(node.items) : z.unknown());
    case "object":
      return node.properties ? objectOf(node.properties, Array.isArray(node.required) ? node.required : []) : z.record(z.string(), z.unknown());
    default:
      return z.unknown();
  }
}

/** One schema node; `required` on the node itself is decided by the object that holds it. */
export function toZod(node: SchemaNode): z.ZodType<unknown> {
  return base(node);
}

/**
 * An object of named properties: a property is required when it says
 * `required: true` or is listed in the object's `required` array; a `default`
 * fills it when absent. Unknown properties are kept as they are.
 */
export function objectOf(properties: Readonly<Record<string, SchemaNode>>, requiredNames: readonly string[] = []): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType<unknown>> = {};
  for (const [name, node] of Object.entries(properties)) {
    let field = toZod(node);
    if (node.default !== undefined) field = field.optional().default(node.default as never) as z.ZodType<unknown>;
    else if (!(node.required === true || requiredNames.includes(name))) field = field.optional();
    shape[name] = field;
  }
  return z.looseObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
}
