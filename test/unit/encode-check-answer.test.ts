// The lean server's Check answer, written straight from the decision, is byte for byte what grpc-js
// sends: the generated encoder over checkResponseFromDecision's message.

import { expect, test } from 'vitest';
import type { Decision } from '../../src/access/decision.js';
import { CheckResponse } from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import { checkResponseFromDecision } from '../../src/transports/grpc/check-response-from-decision.js';
import { encodeCheckAnswer } from '../../src/transports/grpc/encode-check-answer.js';
import { allowed, denied, policies } from '../support/decisions.js';

type Request = Parameters<typeof encodeCheckAnswer>[1];

const plain: Request = { keyHeader: 'x-api-key', spoofedHeaders: [] };
const spoofed: Request = {
  keyHeader: 'authorization',
  spoofedHeaders: ['x-tollgate-account', 'x-tollgate-overage', 'x-forwarded-tier'],
};

const long = 'x'.repeat(200); // 2-byte length varints
const huge = 'y'.repeat(20_000); // 3-byte length varints up the tree, past the shared buffer

const decisions: Record<string, Decision> = {
  'allow, one policy': allowed({ policies: [policies[0]!] }),
  'allow, no policies': allowed({ policies: [] }),
  'allow with everything optional': allowed({
    overage: true,
    degraded: true,
    reservation: 'acct_9.1767225600000.abc',
    shadowDenied: ['burst', 'per-hour'],
  }),
  'allow, non-ASCII and long values': allowed({
    identity: { accountId: 'acct_ü', keyId: long, tier: 'pro' },
    endpoint: 'chat/✓',
  }),
  'allow, huge value': allowed({ endpoint: huge }),
  'rate limited (429)': denied({}),
  'quota exhausted (402)': denied({
    code: 'quota_exceeded',
    status: 402,
    detail: 'Monthly quota used up.',
    violated: ['monthly-quota'],
    retryAfterSec: 86_400,
  }),
  'not in plan (403) with an upgrade link': denied({
    code: 'endpoint_not_in_plan',
    status: 403,
    detail: `Endpoint chat is not included in the free plan. ${long}`,
    violated: [],
    retryAfterSec: undefined,
    upgradeUrl: 'https://example.com/upgrade',
  }),
  'no key (401)': {
    allowed: false,
    code: 'missing_api_key',
    status: 401,
    detail: 'Send your API key.',
    policies: [],
    violated: [],
    shadowDenied: [],
  },
  'ambiguous path (400)': {
    allowed: false,
    code: 'ambiguous_path',
    status: 400,
    detail: `The request path has more than one reading: ${huge}.`,
    policies: [],
    violated: [],
    shadowDenied: [],
  },
};

const generated = (decision: Decision, request: Request) =>
  Buffer.from(CheckResponse.encode(checkResponseFromDecision(decision, request)).finish());

for (const [name, decision] of Object.entries(decisions)) {
  test(`the generated encoder's bytes: ${name}`, () => {
    for (const request of [plain, spoofed]) {
      const bytes = encodeCheckAnswer(decision, request);
      expect(bytes.equals(generated(decision, request))).toBe(true);
      // The lean server's gRPC prefix goes in the headroom; the message follows it unchanged.
      expect(encodeCheckAnswer(decision, request, 5).subarray(5).equals(bytes)).toBe(true);
    }
  });
}

test('an answer is its own buffer: the next one does not overwrite it', () => {
  const first = encodeCheckAnswer(decisions['rate limited (429)']!, plain);
  const copy = Buffer.from(first);
  encodeCheckAnswer(decisions['allow with everything optional']!, spoofed);
  expect(first.equals(copy)).toBe(true);
  expect(CheckResponse.decode(first).deniedResponse?.status?.code).toBe(429);
});
