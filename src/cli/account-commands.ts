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
import type { Config } from '../config.js';
import type { Sql } from '../db/sql.js';
import { InputError } from '../errors.js';
import { createLogger } from '../logger.js';
import { renderDecision } from '../transports/headers.js';
import { optionalDuration, optionalInt, parseFlags, requireString } from './flags.js';
import { print } from './output.js';
import { showAccountCommand } from './report-commands.js';

const DEFAULT_GRACE_MS = 24 * 3_600_000;

function subcommand(args: string[], allowed: string[]): [string, string[]] {
  const [sub, ...rest] = args;
  if (!sub || !allowed.includes(sub))
    throw new InputError([{ path: 'subcommand', message: `expected one of: ${allowed.join(', ')}` }]);
  return [sub, rest];
}

export async function accountsCommand(sql: Sql, args: string[]): Promise<void> {
  const [sub, rest] = subcommand(args, ['create', 'show']);
  if (sub === 'show') return showAccountCommand(sql, rest);
  const { values } = parseFlags(rest, {
    name: { type: 'string' },
    tier: { type: 'string' },
    'anchor-day': { type: 'string' },
    credits: { type: 'string' },
  });
  const input: NewAccount = {
    name: requireString(values, 'name'),
    tier: requireString(values, 'tier'),
  };
  const anchorDay = optionalInt(values, 'anchor-day', 1, 31);
  const credits = optionalInt(values, 'credits', 0, Number.MAX_SAFE_INTEGER);
  if (anchorDay !== undefined) input.billingAnchorDay = anchorDay;
  if (credits !== undefined) input.credits = credits;
  const { id } = await openAccount(sql, CLI_ACTOR, input);
  print(rest, { id, name: input.name, tier: input.tier }, `created account ${id} on ${input.tier}`);
}

export async function keysCommand(sql: Sql, args: string[]): Promise<void> {
  const [sub, rest] = subcommand(args, ['create', 'revoke', 'rotate']);
  const { values, positionals } = parseFlags(rest, {
    account: { type: 'string' },
    name: { type: 'string' },
    'expires-in': { type: 'string' },
    grace: { type: 'string' },
  });
  if (sub === 'create') {
    const input: NewKey = { accountId: requireString(values, 'account') };
    if (typeof values.name === 'string') input.name = values.name;
    const expiresIn = optionalDuration(values, 'expires-in');
    if (expiresIn !== undefined) input.expiresAt = new Date(Date.now() + expiresIn);
    const created = await issueKey(sql, CLI_ACTOR, input);
    print(
      rest,
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
    print(rest, { revoked: keyId }, `revoked ${keyId}`);
    return;
  }
  const grace = optionalDuration(values, 'grace') ?? DEFAULT_GRACE_MS;
  const created = await rotateKeyAudited(sql, CLI_ACTOR, keyId, grace);
  print(
    rest,
    { ...created, replaces: keyId, graceMs: grace },
    `created key ${created.id}: ${created.key}\n${keyId} keeps working for ${grace / 1000} s`,
  );
}

export async function creditsCommand(sql: Sql, args: string[]): Promise<void> {
  const [, rest] = subcommand(args, ['add']);
  const { values } = parseFlags(rest, {
    account: { type: 'string' },
    amount: { type: 'string' },
    'idempotency-key': { type: 'string' },
  });
  const accountId = requireString(values, 'account');
  const amount = optionalInt(values, 'amount', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  if (amount === undefined || amount === 0)
    throw new InputError([{ path: '--amount', message: 'is required and must not be 0' }]);
  const key = typeof values['idempotency-key'] === 'string' ? values['idempotency-key'] : undefined;
  const result = await addCreditsAudited(sql, CLI_ACTOR, accountId, amount, key);
  print(rest, result, `credits of ${accountId}: ${JSON.stringify(result)}`);
}

export async function checkCommand(sql: Sql, args: string[], config: Readonly<Config>): Promise<void> {
  const { values } = parseFlags(args, {
    key: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    endpoint: { type: 'string' },
    cost: { type: 'string' },
  });
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
  const path = await createDecisionPath(config, sql, createLogger('warn'));
  try {
    const decision = await path.checkAccess(request);
    const rendered = renderDecision(decision, request);
    const { identity, endpoint } = decision;
    const summary = decision.allowed
      ? `allowed (${endpoint})`
      : `denied ${rendered.status} ${decision.code}: ${decision.detail}`;
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
      args,
      {
        status: rendered.status,
        decision: { ...decision, identity },
        headers: rendered.clientHeaders,
        upstream: rendered.upstreamHeaders,
      },
      human.join('\n'),
    );
  } finally {
    await path.close();
  }
}
