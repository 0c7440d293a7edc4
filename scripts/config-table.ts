/** Prints the README's configuration table from the schema, so the two cannot drift apart. */
import type { z } from "zod";
import { envBindings } from "../config/load.js";
import { configSchema } from "../config/schema.js";

const defaults = configSchema.parse({}) as Record<string, unknown>;
const shape = (configSchema as unknown as { def: { in?: { shape: Record<string, z.ZodType> } } }).def;
const root = (shape.in ?? (configSchema as unknown as { shape: Record<string, z.ZodType> })) as { shape: Record<string, z.ZodType> };

function describe(schema: z.ZodType): string | undefined {
  return schema.description ?? (schema as unknown as { def: { innerType?: z.ZodType } }).def.innerType?.description;
}

const rows: string[] = ["| setting | env | default | meaning |", "| --- | --- | --- | --- |"];
function walk(node: Record<string, z.ZodType>, path: string[], values: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(node)) {
    const inner = child as unknown as { def: { innerType?: { shape?: Record<string, z.ZodType> }; type?: string }; shape?: Record<string, z.ZodType> };
    const nested = inner.shape ?? inner.def.innerType?.shape;
    const value = values[key];
    if (nested && typeof value === "object") {
      walk(nested, [...path, key], value as Record<string, unknown>);
      continue;
    }
    const env = envBindings.find((b) => b.path.join(".") === [...path, key].join("."))?.env ?? "";
    rows.push(`| \`${[...path, key].join(".")}\` | ${env ? `\`${env}\`` : ""} | \`${JSON.stringify(value)}\` | ${describe(child) ?? ""} |`);
  }
}
walk(root.shape, [], defaults);
console.log(rows.join("\n"));
