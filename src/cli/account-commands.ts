// `tollgate accounts|keys|credits|check`: support and billing operations straight on the database.

import {
  addCreditsAudited,
  CLI_ACTOR,
  issueKey,
  openAccount,
  revokeKeyAudited,
  rotateKeyAudited,
} from '../accounts/account-changes.js';
import type { NewKey } from '../accounts/api-keys.js';
import type { NewAccount } from '../accounts/create-account.js';
import { accessRequestFromHeaders } from '../transports/access-request-from-headers.js';
import { createDecisionPath } from '../decision-path.js';
import { InputError } from '../errors.js';
import { createLogger } from '../logger.js';
import { renderDecision } from '../transports/headers.js';
import { nginxCheckStatus } from '../transports/http/nginx-check.js';
import { optionalDuration, optionalInt, requireString } from './flags.js';
import { print, type CommandContext } from './output.js';

const DEFAULT_GRACE_MS = 24 * 3_600_000;

export async function accountsCreateCommand(ctx: CommandContext): Promise<void> {
  const { values } = ctx;
  const input: NewAccount = {
    name: requireString(values, 'name'),
    tier: requireString(values, 'tier'),
  };
  const anchorDay = optionalInt(values, 'anchor-day', 1, 31);
  const credits = optionalInt(values, 'credits', 0, Number.MAX_SAFE_INTEGER);
  if (anchorDay !== undefined) input.billingAnchorDay = anchorDay;
  if (credits !== undefined) input.credits = credits;
  const { id } = await openAccount(ctx.sql, CLI_ACTOR, input);
  print(ctx, { id, name: input.name, tier: input.tier }, `created account ${id} on ${input.tier}`);
}

export async function keysCommand(ctx: CommandContext, sub: 'create' | 'revoke' | 'rotate'): Promise<void> {
  const { sql, values, positionals } = ctx;
  if (sub === 'create') {
    const input: NewKey = { accountId: requireString(values, 'account') };
    if (typeof values.name === 'string') input.name = values.name;
    const expiresIn = optionalDuration(values, 'expires-in');
    if (expiresIn !== undefined) input.expiresAt = new Date(Date.now() + expiresIn);
    const created = await issueKey(sql, CLI_ACTOR, input);
    print(
      ctx,
      created,
      `created key ${created.id}: ${created.key}\n(shown once; only its SHA-256 is stored)`,
    );
    return;
  }
  const keyId = positionals[0];
  if (!keyId)
    throw new InputError([{ path: 'key-id', message: `name the key: tollgate keys ${sub} <key-id>` }]);
  if (sub === 'revoke') {
    await revokeKeyAudited(sql, CLI_ACTOR, keyId);
    print(ctx, { revoked: keyId }, `revoked ${keyId}`);
    return;
  }
  const grace = optionalDuration(values, 'grace') ?? DEFAULT_GRACE_MS;
  const created = await rotateKeyAudited(sql, CLI_ACTOR, keyId, grace);
  print(
    ctx,
    { ...created, replaces: keyId, graceMs: grace },
    `created key ${created.id}: ${created.key}\n${keyId} keeps working for ${grace / 1000} s`,
  );
}

export async function creditsCommand(ctx: CommandContext): Promise<void> {
  const { values } = ctx;
  const accountId = requireString(values, 'account');
  const amount = optionalInt(values, 'amount', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (amount === undefined || amount === 0)
    throw new InputError([{ path: '--amount', message: 'is required and must not be 0' }]);
  const key = typeof values['idempotency-key'] === 'string' ? values['idempotency-key'] : undefined;
  const result = await addCreditsAudited(ctx.sql, CLI_ACTOR, accountId, amount, key);
  print(ctx, result, `credits of ${accountId}: ${JSON.stringify(result)}`);
}

/** Exit code 0 allowed, 1 denied (2, an error, is set by main): scripts can branch on it. */
export async function checkCommand(ctx: CommandContext): Promise<void> {
  const { values, config } = ctx;
  const key = typeof values.key === 'string' ? values.key : config.cliKey;
  const request = accessRequestFromHeaders(
    'cli',
    key ? { 'x-api-key': key } : {},
    String(values.method ?? 'GET'),
    String(values.path ?? '/'),
  );
  if (typeof values.endpoint === 'string') request.endpointHint = values.endpoint;
  const cost = optionalInt(values, 'cost', 0, 1_000_000);
  if (cost !== undefined) request.costHint = cost;
  const path = await createDecisionPath(config, ctx.sql, createLogger('warn'));
  try {
    const decision = await path.checkAccess(request);
    const rendered = renderDecision(decision, request);
    const status = nginxCheckStatus(decision);
    const summary = decision.allowed
      ? `allowed: /check answers ${status}; the call goes upstream (endpoint ${decision.endpoint})`
      : `denied: /check answers ${status}; the client gets ${decision.status} ${decision.code}: ${decision.detail}`;
    const human = [
      summary,
      ...rendered.clientHeaders.map(([n, v]) => `${n}: ${v}`),
      ...rendered.upstreamHeaders.map(([n, v]) => `upstream ${n}: ${v}`),
    ];
    if (config.counters.kind === 'memory')
      human.push(
        '(in-process counters: this decision saw no earlier calls; set REDIS_URL to check against live counters)',
      );
    print(
      ctx,
      {
        allowed: decision.allowed,
        status,
        clientStatus: decision.allowed ? null : decision.status,
        decision,
        headers: rendered.clientHeaders,
        upstream: rendered.upstreamHeaders,
      },
      human.join('\n'),
    );
    if (!decision.allowed) process.exitCode = 1;
  } finally {
    await path.close();
  }
}
