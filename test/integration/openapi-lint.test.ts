// The admin API's OpenAPI document, as served, linted with the rules of Redocly's "recommended"
// ruleset that apply to it (reimplemented here: rule names as Redocly spells them, so a finding
// reads the same as `redocly lint` would report it).

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTollgate, TEST_ADMIN_TOKEN, type TestTollgate } from '../support/tollgate.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any -- a parsed OpenAPI document
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every problem as "rule: where: what"; empty when the document is clean. */
function lint(doc: Json): string[] {
  const problems: string[] = [];
  const report = (rule: string, where: string, what: string) => problems.push(`${rule}: ${where}: ${what}`);

  if (!doc.info?.license) report('info-license', 'info', 'no license');
  else if (!doc.info.license.url && !doc.info.license.identifier)
    report('info-license-strict', 'info.license', 'neither url nor identifier');
  const servers: Json[] = doc.servers ?? [];
  if (servers.length === 0) report('no-empty-servers', 'servers', 'none');
  for (const [i, server] of servers.entries()) {
    const where = `servers[${i}]`;
    if (/example\.com/.test(server.url)) report('no-server-example.com', where, server.url);
    if (server.url.endsWith('/') && server.url !== '/') report('no-server-trailing-slash', where, server.url);
    for (const [, name] of (server.url as string).matchAll(/\{([^}]+)\}/g))
      if (!server.variables?.[name!]) report('no-undefined-server-variable', where, `{${name}} undefined`);
    for (const [name, variable] of Object.entries((server.variables ?? {}) as Record<string, Json>)) {
      if (variable.default === undefined) report('struct', `${where}.variables.${name}`, 'no default');
      if (variable.enum && variable.enum.length === 0)
        report('no-server-variables-empty-enum', `${where}.variables.${name}`, 'empty enum');
    }
  }

  const schemes = Object.keys(doc.components?.securitySchemes ?? {});
  const operationIds = new Map<string, string>();
  const templates = new Map<string, string>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
    if (path.includes('?')) report('path-not-include-query', path, 'query string in the path');
    if (path.length > 1 && path.endsWith('/')) report('no-path-trailing-slash', path, 'trailing slash');
    const template = path.replace(/\{[^}]+\}/g, '{}');
    if (templates.has(template)) report('no-identical-paths', path, `same as ${templates.get(template)}`);
    templates.set(template, path);
    const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of Object.keys(item).filter((k) => METHODS.includes(k))) {
      const op = item[method];
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.operationId) report('operation-operationId', where, 'none');
      else {
        if (operationIds.has(op.operationId))
          report(
            'operation-operationId-unique',
            where,
            `${op.operationId} also on ${operationIds.get(op.operationId)}`,
          );
        operationIds.set(op.operationId, where);
        if (!/^[A-Za-z0-9-._~:/?#[\]@!$&'()*+,;=]*$/.test(op.operationId))
          report('operation-operationId-url-safe', where, op.operationId);
      }
      if (!op.summary) report('operation-summary', where, 'none');
      const statuses = Object.keys(op.responses ?? {});
      if (!statuses.some((s) => /^2\d\d$|^2XX$/.test(s))) report('operation-2xx-response', where, 'none');
      if (!statuses.some((s) => /^4\d\d$|^4XX$/.test(s))) report('operation-4xx-response', where, 'none');
      const params: Json[] = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      const seen = new Set<string>();
      for (const p of params) {
        if (seen.has(`${p.in}:${p.name}`)) report('operation-parameters-unique', where, `${p.in} ${p.name}`);
        seen.add(`${p.in}:${p.name}`);
      }
      const declared = params.filter((p) => p.in === 'path').map((p) => p.name as string);
      for (const name of pathParams)
        if (!declared.includes(name)) report('path-parameters-defined', where, `{${name}} not declared`);
      for (const name of declared)
        if (!pathParams.includes(name)) report('path-parameters-defined', where, `${name} not in the path`);
      const security: Json[] = op.security ?? doc.security ?? [];
      if (security.length === 0) report('security-defined', where, 'no security requirement');
      for (const requirement of security)
        for (const scheme of Object.keys(requirement))
          if (!schemes.includes(scheme)) report('security-defined', where, `unknown scheme ${scheme}`);
    }
  }

  // no-unresolved-refs and no-unused-components, over the whole document.
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
  for (const ref of refs) {
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: Json, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    if (!ref.startsWith('#/') || target === undefined) report('no-unresolved-refs', ref, 'does not resolve');
  }
  for (const name of Object.keys(doc.components?.schemas ?? {}))
    if (!refs.includes(`#/components/schemas/${name}`))
      report('no-unused-components', name, 'never referenced');
  return problems;
}

describe('admin OpenAPI document', () => {
  let tollgate: TestTollgate;
  let doc: Json;

  beforeAll(async () => {
    tollgate = await startTollgate({ accounts: [] });
    const res = await fetch(`http://127.0.0.1:${tollgate.adminPort}/admin/openapi.json`, {
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    doc = await res.json();
  });

  afterAll(async () => {
    await tollgate?.stop();
  });

  it('passes the recommended rules: license, servers, operation ids, responses, parameters, security, refs', () => {
    expect(Object.keys(doc.paths).length).toBeGreaterThan(10);
    expect(lint(doc)).toEqual([]);
  });

  it("carries package.json's license and a server that works whatever ADMIN_PORT is", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(doc.info.license.name).toBe(pkg.license);
    expect(doc.servers[0].url).toBe('/'); // relative: the listener that served the document
    expect(doc.servers[1].variables.port.default).toBe('8082');
  });

  it('the linter finds what it looks for (a broken copy fails every rule it breaks)', () => {
    const broken = structuredClone(doc);
    delete broken.info.license;
    broken.servers = [{ url: 'https://api.example.com/', description: 'x' }];
    const [path, item] = Object.entries(broken.paths as Record<string, Json>).find(([p]) => p.includes('{'))!;
    const op = item[Object.keys(item).find((k) => METHODS.includes(k))!];
    op.parameters = op.parameters.filter((p: Json) => p.in !== 'path');
    op.responses = { 200: op.responses[200] ?? { description: 'ok' } };
    op.security = [{ nope: [] }];
    broken.components.schemas.Unused = { type: 'string' };
    const rules = new Set(lint(broken).map((p) => p.split(':')[0]));
    expect([...rules].sort(), path).toEqual(
      [
        'info-license',
        'no-server-example.com',
        'no-server-trailing-slash',
        'path-parameters-defined',
        'operation-4xx-response',
        'security-defined',
        'no-unused-components',
      ].sort(),
    );
  });
});
