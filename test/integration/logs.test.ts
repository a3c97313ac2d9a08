// Decision logs against the real app (Postgres + Redis) at debug level, captured in memory: one line
// per decision with a request id, and no key material anywhere, whichever header carried the key.

import { Writable } from 'node:stream';
import { credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthorizationClient,
  CheckRequest,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { createLogger } from '../../src/logger.js';
import { startTollgate, type TestTollgate } from '../support/tollgate.js';

const BOGUS_KEY = 'tg_live_thisisnotakeythisisnotakey2345';

describe('decision logs', () => {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const logger = createLogger('debug', sink);
  let tollgate: TestTollgate;
  let client: AuthorizationClient;
  let key: string;
  const lines = () =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const decisionLines = () => lines().filter((l) => l.msg === 'allowed' || l.msg === 'denied');

  const http = (headers: Record<string, string>, path = '/check') =>
    fetch(`http://127.0.0.1:${tollgate.httpPort}${path}`, {
      headers: { 'x-original-uri': '/v1/items', 'x-original-method': 'GET', ...headers },
    }).then((r) => r.status);

  const grpc = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const all = { ':method': 'GET', ':path': '/v1/items', ':authority': 'api.example.com', ...headers };
      const request = CheckRequest.fromPartial({
        attributes: { request: { http: { method: 'GET', path: '/v1/items', headers: all } } },
      });
      client.check(request, (err: Error | null, res: CheckResponse) =>
        err ? reject(err) : resolve(res.status?.code ?? -1),
      );
    });

  beforeAll(async () => {
    tollgate = await startTollgate({ accounts: [{ label: 'free', tier: 'free' }], logger });
    client = new AuthorizationClient(`127.0.0.1:${tollgate.grpcPort}`, credentials.createInsecure());
    key = tollgate.keys['free']!;
    expect(await http({ 'x-api-key': key, 'x-request-id': 'req-http-1' })).toBe(204);
    expect(await http({ authorization: `Bearer ${key}` })).toBe(204);
    expect(await http({ 'x-api-key': BOGUS_KEY })).toBe(401);
    expect(await http({ authorization: `Bearer ${BOGUS_KEY}` })).toBe(401);
    expect(await http({ 'x-api-key': key }, '/ext_authz/v1/items')).toBe(200);
    expect(await grpc({ 'x-api-key': key, 'x-request-id': 'req-grpc-1' })).toBe(0);
    expect(await grpc({ authorization: `Bearer ${key}` })).toBe(0);
    expect(await grpc({ authorization: `Bearer ${BOGUS_KEY}` })).not.toBe(0);
    // The redaction paths, for anything that logs a request or its headers by mistake.
    logger.info(
      {
        apiKey: key,
        key,
        request: { apiKey: key },
        headers: { 'x-api-key': key, authorization: `Bearer ${key}` },
        req: { headers: { 'x-api-key': key, authorization: `Bearer ${key}` } },
      },
      'redaction probe',
    );
  });

  afterAll(async () => {
    client?.close();
    await tollgate?.stop();
  });

  it('never writes key material, from either header or any transport', () => {
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain('tg_live_');
    expect(text).not.toContain(key.slice(8));
    const probe = lines().find((l) => l.msg === 'redaction probe')!;
    expect(probe).toMatchObject({
      apiKey: '[redacted]',
      key: '[redacted]',
      request: { apiKey: '[redacted]' },
      headers: { 'x-api-key': '[redacted]', authorization: '[redacted]' },
      req: { headers: { 'x-api-key': '[redacted]', authorization: '[redacted]' } },
    });
  });

  it('writes one line per decision: denials at info, allows at debug, with a request id each', () => {
    const decisions = decisionLines();
    expect(decisions).toHaveLength(8);
    expect(decisions.filter((l) => l.msg === 'allowed').every((l) => l.level === 20)).toBe(true);
    expect(decisions.filter((l) => l.msg === 'denied').every((l) => l.level === 30)).toBe(true);
    expect(decisions.map((l) => l.transport)).toEqual([
      'http',
      'http',
      'http',
      'http',
      'envoy_http',
      'grpc',
      'grpc',
      'grpc',
    ]);
    const ids = decisions.map((l) => l.requestId);
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe('req-http-1');
    expect(ids[5]).toBe('req-grpc-1');
  });

  it('says who and what: outcome, code, tier, endpoint, account and key id', () => {
    const [allowed, , denied] = decisionLines();
    expect(allowed).toMatchObject({
      outcome: 'allowed',
      code: 'ok',
      tier: 'free',
      endpoint: 'default',
      accountId: tollgate.accounts['free'],
      keyId: tollgate.keyIds['free'],
    });
    expect(denied).toMatchObject({ outcome: 'denied', code: 'invalid_api_key' });
    expect(denied!.accountId).toBeUndefined();
  });
});
