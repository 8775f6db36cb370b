// The one place the OpenAPI documents turn zod schemas into JSON Schema (every route file's `js`
// and `json` helpers were copies of these).
import { z } from 'zod';

/** The JSON Schema of a zod schema: what a client sends (`input`, the default) or receives (`output`). */
export function js(s: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  return z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
}

/** An OpenAPI `content` object for a JSON body with this schema. */
export function json(schema: unknown): { 'application/json': { schema: unknown } } {
  return { 'application/json': { schema } };
}
