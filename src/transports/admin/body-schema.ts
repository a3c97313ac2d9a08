// Admin API: a JSON-Schema subset for request bodies and query strings — validated here, published as is in openapi.json.

import { InputError } from '../../errors.js';

export type FieldSchema =
  | {
      type: 'string';
      description?: string;
      minLength?: number;
      maxLength?: number;
      pattern?: string;
      enum?: readonly string[];
      format?: 'date-time';
      nullable?: boolean;
    }
  | { type: 'integer'; description?: string; minimum?: number; maximum?: number; not?: { const: number } };

export interface ObjectSchema {
  properties: Record<string, FieldSchema>;
  required?: readonly string[];
  /** At least one property must be present (PATCH). */
  minProperties?: number;
}

type Problem = { path: string; message: string };

/** Every problem at once (unknown fields included), or the object itself. `where` prefixes nothing: paths are field names. */
export function validateObject(value: unknown, schema: ObjectSchema): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError([{ path: 'body', message: 'expected a JSON object' }]);
  const object = value as Record<string, unknown>;
  const problems: Problem[] = [];
  for (const name of Object.keys(object)) {
    if (!Object.hasOwn(schema.properties, name))
      problems.push({
        path: name,
        message: `unknown field (known: ${Object.keys(schema.properties).join(', ') || 'none'})`,
      });
  }
  for (const name of schema.required ?? [])
    if (object[name] === undefined) problems.push({ path: name, message: 'is required' });
  for (const [name, field] of Object.entries(schema.properties)) {
    if (object[name] !== undefined) checkField(name, field, object[name], problems);
  }
  if (schema.minProperties !== undefined && Object.keys(object).length < schema.minProperties) {
    problems.push({
      path: 'body',
      message: `expected at least ${schema.minProperties} of: ${Object.keys(schema.properties).join(', ')}`,
    });
  }
  if (problems.length > 0) throw new InputError(problems);
  return object;
}

function checkField(name: string, field: FieldSchema, value: unknown, problems: Problem[]): void {
  if (field.type === 'integer') {
    const ok =
      typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      (field.minimum === undefined || value >= field.minimum) &&
      (field.maximum === undefined || value <= field.maximum) &&
      (field.not === undefined || value !== field.not.const);
    if (!ok) problems.push({ path: name, message: `expected an integer${range(field)}` });
    return;
  }
  if (value === null && field.nullable) return;
  if (typeof value !== 'string')
    return void problems.push({
      path: name,
      message: `expected a string${field.nullable ? ' or null' : ''}`,
    });
  // Postgres text cannot hold U+0000 (SQLSTATE 22021): the field is named here instead.
  if (value.includes('\0'))
    return void problems.push({ path: name, message: 'must not contain U+0000 (NUL)' });
  if (field.enum && !field.enum.includes(value))
    return void problems.push({ path: name, message: `expected one of ${field.enum.join(', ')}` });
  if (
    (field.minLength !== undefined && value.length < field.minLength) ||
    (field.maxLength !== undefined && value.length > field.maxLength)
  ) {
    return void problems.push({
      path: name,
      message: `expected ${field.minLength ?? 0} to ${field.maxLength ?? '∞'} characters`,
    });
  }
  if (field.pattern && !new RegExp(field.pattern).test(value))
    return void problems.push({ path: name, message: `expected to match ${field.pattern}` });
  if (field.format === 'date-time' && !isDateTime(value))
    problems.push({ path: name, message: 'expected an RFC 3339 date-time, e.g. 2026-11-30T00:00:00Z' });
}

function range(field: { minimum?: number; maximum?: number; not?: { const: number } }): string {
  const parts = [];
  if (field.minimum !== undefined) parts.push(`>= ${field.minimum}`);
  if (field.maximum !== undefined) parts.push(`<= ${field.maximum}`);
  if (field.not !== undefined) parts.push(`not ${field.not.const}`);
  return parts.length > 0 ? ` ${parts.join(', ')}` : '';
}

function isDateTime(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) &&
    Number.isFinite(Date.parse(value))
  );
}

/** The same schema as JSON Schema 2020-12 (OpenAPI 3.1). */
export function toJsonSchema(schema: ObjectSchema): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(schema.properties)) {
    const { nullable, ...rest } = field as FieldSchema & { nullable?: boolean };
    properties[name] = nullable ? { ...rest, type: [rest.type, 'null'] } : rest;
  }
  const out: Record<string, unknown> = { type: 'object', additionalProperties: false, properties };
  if (schema.required && schema.required.length > 0) out.required = [...schema.required];
  if (schema.minProperties !== undefined) out.minProperties = schema.minProperties;
  return out;
}
