// Admin API: the OpenAPI 3.1 document, generated from the route table (the same schemas the server validates with).

import { policySchemaAsComponents } from '../../policy/policy-schema.js';
import { toJsonSchema } from './body-schema.js';
import type { AdminRoute } from './admin-route.js';

const PROBLEM = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    errors: {
      type: 'array',
      description: 'On 400: every problem, each with the field (path) at fault.',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  required: ['type', 'title', 'status', 'detail', 'code'],
};
/** package.json's license (test/integration/openapi-lint.test.ts keeps them equal). */
const LICENSE = { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' };
/** "/" is the listener that served this document, whatever ADMIN_PORT is; the second is for tools that
 * read the document from a file. */
const SERVERS = [
  { url: '/', description: 'The admin listener that served this document' },
  {
    url: 'http://{host}:{port}',
    description: 'The admin listener (ADMIN_PORT): keep it on a private network',
    variables: { host: { default: '127.0.0.1' }, port: { default: '8082' } },
  },
];
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
});

export function openApiDocument(routes: readonly AdminRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate admin API',
      version,
      description:
        'Accounts, keys, credits, policy, usage and billing. Every route needs Authorization: Bearer $ADMIN_TOKEN.',
      license: LICENSE,
    },
    servers: SERVERS,
    security: [{ adminToken: [] }],
    paths,
    components: {
      securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' } },
      // The policy file's JSON Schema definitions, referenced by PUT /admin/policy.
      schemas: { Problem: PROBLEM, ...policySchemaAsComponents().components },
    },
  };
}

function operation(route: AdminRoute): Record<string, unknown> {
  const parameters: unknown[] = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  for (const [name, schema] of Object.entries(route.query?.properties ?? {})) {
    parameters.push({ name, in: 'query', required: route.query?.required?.includes(name) ?? false, schema });
  }
  parameters.push({
    name: 'x-tollgate-actor',
    in: 'header',
    required: false,
    schema: { type: 'string', maxLength: 100 },
    description: 'Who is acting, recorded in the audit log.',
  });
  const responses: Record<string, unknown> = {};
  for (const [status, doc] of Object.entries(route.responses)) {
    const content: Record<string, unknown> = { 'application/json': { schema: doc.schema ?? {} } };
    for (const type of doc.contentTypes ?? []) content[type] = { schema: { type: 'string' } };
    responses[status] =
      Number(status) >= 400 ? problem(doc.description) : { description: doc.description, content };
  }
  Object.assign(responses, {
    400: problem('Invalid request: every problem with its path'),
    401: problem('Missing or wrong admin token'),
    ...(route.path.includes('{') ? { 404: problem('Unknown account or key') } : {}),
    ...(route.body || route.rawBody
      ? { 413: problem('Body too large'), 415: problem('Unsupported media type') }
      : {}),
  });
  const op: Record<string, unknown> = {
    operationId: route.operationId ?? operationId(route),
    summary: route.summary,
    parameters,
    responses,
  };
  if (route.body)
    op.requestBody = {
      required: (route.body.required?.length ?? 0) > 0,
      content: { 'application/json': { schema: toJsonSchema(route.body) } },
    };
  if (route.rawBody) {
    op.requestBody = {
      required: true,
      description: route.rawBody.description,
      content: Object.fromEntries(
        route.rawBody.contentTypes.map((type) => [
          type,
          { schema: route.rawBody!.schema ?? { type: type.endsWith('json') ? 'object' : 'string' } },
        ]),
      ),
    };
  }
  return op;
}

function operationId(route: AdminRoute): string {
  const words = route.path
    .replace(/^\/admin\//, '')
    .split('/')
    .map((s) => s.replace(/[{}]/g, ''))
    .filter((s) => s !== 'id');
  return [route.method.toLowerCase(), ...words]
    .map((w, i) =>
      i === 0
        ? w
        : w.charAt(0).toUpperCase() + w.slice(1).replace(/[._-](\w)/g, (_, c: string) => c.toUpperCase()),
    )
    .join('');
}
