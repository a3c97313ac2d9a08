// Validates a manifest against a CRD's OpenAPI v3 schema the way the API server's structural checks
// and `kubectl --validate=strict` do: types, unknown fields, required, enum, bounds, patterns and
// oneOf/anyOf/not. CEL rules (x-kubernetes-validations) are not evaluated: tests assert the few
// that matter to them directly.

type Schema = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- a CRD schema
type Problem = string;

/** Every violation, as "path: what"; empty when the value fits. */
export function validateAgainstSchema(value: unknown, schema: Schema, path = '$'): Problem[] {
  const problems: Problem[] = [];
  const typeProblem = checkType(value, schema, path);
  if (typeProblem) return [typeProblem];
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === 'string') problems.push(...stringProblems(value, schema, path));
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum)
      problems.push(`${path}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum)
      problems.push(`${path}: above ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${path}: fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.items)
      value.forEach((item, i) =>
        problems.push(...validateAgainstSchema(item, schema.items, `${path}[${i}]`)),
      );
  } else if (value !== null && typeof value === 'object')
    problems.push(...objectProblems(value, schema, path));
  problems.push(...combinatorProblems(value, schema, path));
  return problems;
}

function checkType(value: unknown, schema: Schema, path: string): Problem | undefined {
  if (schema['x-kubernetes-int-or-string'] && (typeof value === 'string' || Number.isInteger(value)))
    return undefined;
  const actual = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  switch (schema.type) {
    case undefined:
      return undefined;
    case 'integer':
      return Number.isInteger(value) ? undefined : `${path}: expected an integer, got ${actual}`;
    case 'number':
      return typeof value === 'number' ? undefined : `${path}: expected a number, got ${actual}`;
    default:
      return actual === schema.type ? undefined : `${path}: expected ${schema.type}, got ${actual}`;
  }
}

function stringProblems(value: string, schema: Schema, path: string): Problem[] {
  const problems: Problem[] = [];
  if (schema.minLength !== undefined && value.length < schema.minLength)
    problems.push(`${path}: shorter than ${schema.minLength}`);
  if (schema.maxLength !== undefined && value.length > schema.maxLength)
    problems.push(`${path}: longer than ${schema.maxLength}`);
  if (schema.pattern && !new RegExp(schema.pattern, 'u').test(value))
    problems.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  return problems;
}

function objectProblems(value: object, schema: Schema, path: string): Problem[] {
  const problems: Problem[] = [];
  const entries = Object.entries(value);
  for (const name of schema.required ?? [])
    if (!(name in value)) problems.push(`${path}: required field ${name} is missing`);
  if (schema.minProperties !== undefined && entries.length < schema.minProperties)
    problems.push(`${path}: fewer than ${schema.minProperties} fields`);
  if (schema.maxProperties !== undefined && entries.length > schema.maxProperties)
    problems.push(`${path}: more than ${schema.maxProperties} fields`);
  for (const [key, child] of entries) {
    const where = `${path}.${key}`;
    if (schema.properties?.[key])
      problems.push(...validateAgainstSchema(child, schema.properties[key], where));
    else if (typeof schema.additionalProperties === 'object')
      problems.push(...validateAgainstSchema(child, schema.additionalProperties, where));
    // A schema that lists its properties prunes (API server) or rejects (strict kubectl) the rest.
    else if (schema.properties && !schema['x-kubernetes-preserve-unknown-fields'])
      problems.push(`${where}: unknown field`);
  }
  return problems;
}

function combinatorProblems(value: unknown, schema: Schema, path: string): Problem[] {
  const fits = (sub: Schema) => validateAgainstSchema(value, sub, path).length === 0;
  const problems: Problem[] = [];
  for (const sub of schema.allOf ?? []) problems.push(...validateAgainstSchema(value, sub, path));
  if (schema.anyOf && !schema.anyOf.some(fits)) problems.push(`${path}: fits none of anyOf`);
  if (schema.oneOf && schema.oneOf.filter(fits).length !== 1)
    problems.push(`${path}: fits ${schema.oneOf.filter(fits).length} of oneOf, not exactly one`);
  if (schema.not && fits(schema.not)) problems.push(`${path}: matches a schema it must not`);
  return problems;
}
