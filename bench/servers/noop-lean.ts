// Reference point (the floor of Tollgate's own gRPC server): Tollgate's lean node:http2 server, with
// its request decoding and response encoding, in front of a decision path that does nothing. Check
// answers one constant allowed decision (a missing key: a constant denial); ShouldRateLimit answers
// OK per descriptor. What Tollgate spends above this row is its decision path. Prints its port.
// With REDIS_URL, Check first counts the key in Redis (ShouldRateLimit: its first descriptor value),
// batched as Tollgate batches (batched-incr.ts): the floor with Redis.

import type { Decision } from '../../src/access/decision.js';
import { createLeanGrpcServer } from '../../src/transports/grpc/lean/lean-grpc-server.js';
import { batchedIncr } from './batched-incr.js';
import { rlsOk } from './rls-ok-result.js';

const ALLOWED: Decision = {
  allowed: true,
  identity: { accountId: 'acc_noop', keyId: 'key_noop', tier: 'bench-allow' },
  endpoint: 'default',
  overage: false,
  policies: [],
  shadowDenied: [],
};
const MISSING_KEY: Decision = {
  allowed: false,
  code: 'missing_api_key',
  status: 401,
  detail: 'No API key.',
  violated: [],
  policies: [],
  shadowDenied: [],
};
const count = process.env.REDIS_URL ? batchedIncr(process.env.REDIS_URL) : undefined;

const server = createLeanGrpcServer({
  // Touch the decoded request like a real handler would (the key header).
  checkAccess: async (request) => {
    if (request.apiKey === undefined) return MISSING_KEY;
    if (count) await count(request.apiKey);
    return ALLOWED;
  },
  shouldRateLimit: async ({ descriptors }) => {
    // One count per call (the bench sends one descriptor), as one decide.lua call per RLS request.
    const value = descriptors[0]?.entries[0]?.value;
    if (count && value !== undefined) await count(value);
    return rlsOk(descriptors);
  },
});
const port = await server.listen('127.0.0.1', Number(process.env.PORT ?? 0));
process.stdout.write(`listening ${port}\n`);
process.on('SIGTERM', () => void server.close(1_000).then(() => process.exit(0)));
