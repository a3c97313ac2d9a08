// Admin API: API keys — issue (plaintext shown once), find by prefix, rotate with a grace period, revoke. Each change audited.

import { findKey, listKeysByPrefix, type KeyView } from '../../accounts/account-queries.js';
import { issueKey, revokeKeyAudited, rotateKeyAudited } from '../../accounts/account-changes.js';
import type { NewKey } from '../../accounts/api-keys.js';
import type { Sql } from '../../db/sql.js';
import { InputError } from '../../errors.js';
import { PREFIX_LENGTH } from '../../keys/api-key.js';
import { requireAccountView } from './account-routes.js';
import { HttpError, notFound } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';
import { KEY_SCHEMA, keyJson, NEW_KEY_SCHEMA } from './admin-views.js';

/** A plaintext key must never be cached by a proxy or browser. */
const NO_STORE = ['cache-control', 'no-store'];
const DEFAULT_GRACE_SECONDS = 86_400;
/** Upper bound of a rotation's grace period: one year, in seconds. */
const MAX_GRACE_SECONDS = 31_536_000;

async function requireKey(sql: Sql, id: string): Promise<KeyView> {
  const key = await findKey(sql, id);
  if (!key) throw notFound('key', id);
  return key;
}

export function keyRoutes({ sql, now = Date.now }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'POST',
      path: '/admin/accounts/{id}/keys',
      summary: 'Issue a key for the account; the plaintext is in this answer only',
      body: {
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          expires_at: { type: 'string', format: 'date-time', description: 'In the future; omitted = never.' },
        },
      },
      responses: {
        201: { description: 'The new key, with its plaintext (shown once)', schema: NEW_KEY_SCHEMA },
      },
      async handle({ params, body, actor }) {
        const input: NewKey = { accountId: params.id! };
        if (body.name !== undefined) input.name = body.name as string;
        if (body.expires_at !== undefined) {
          input.expiresAt = new Date(body.expires_at as string);
          if (input.expiresAt.getTime() <= now())
            throw new InputError([{ path: 'expires_at', message: 'must be in the future' }]);
        }
        const created = await sql.transaction(async (tx) => {
          await requireAccountView(tx, params.id!);
          return issueKey(tx, actor, input);
        });
        const json = {
          id: created.id,
          key: created.key,
          prefix: created.prefix,
          account_id: input.accountId,
          name: input.name ?? null,
          expires_at: input.expiresAt?.toISOString() ?? null,
        };
        return { status: 201, json, headers: NO_STORE };
      },
    },
    {
      method: 'GET',
      path: '/admin/keys',
      summary:
        'Keys whose prefix starts with the given characters (support lookups); never hashes or plaintext',
      query: {
        properties: {
          prefix: {
            type: 'string',
            minLength: 1,
            maxLength: PREFIX_LENGTH,
            description: 'e.g. tg_live_ab12',
          },
        },
        required: ['prefix'],
      },
      responses: {
        200: {
          description: 'Matching keys (at most 100)',
          schema: {
            type: 'object',
            properties: { keys: { type: 'array', items: KEY_SCHEMA } },
            required: ['keys'],
          },
        },
      },
      async handle({ query }) {
        const keys = await listKeysByPrefix(sql, query.prefix!);
        return { status: 200, json: { keys: keys.map((k) => keyJson(k, now())) } };
      },
    },
    {
      method: 'POST',
      path: '/admin/keys/{id}/rotate',
      summary: 'A new key for the same account; the old one keeps working for grace_seconds (default 86400)',
      body: { properties: { grace_seconds: { type: 'integer', minimum: 0, maximum: MAX_GRACE_SECONDS } } },
      responses: {
        201: {
          description: 'The new key, with its plaintext (shown once)',
          schema: {
            ...NEW_KEY_SCHEMA,
            properties: {
              ...NEW_KEY_SCHEMA.properties,
              replaces: { type: 'string' },
              replaced_key_expires_at: { type: ['string', 'null'], format: 'date-time' },
            },
          },
        },
      },
      async handle({ params, body, actor }) {
        const graceSeconds = (body.grace_seconds as number | undefined) ?? DEFAULT_GRACE_SECONDS;
        const { created, old } = await sql.transaction(async (tx) => {
          const before = await requireKey(tx, params.id!);
          if (before.revokedAt)
            throw new HttpError(
              409,
              'key_revoked',
              'Key revoked',
              `key "${before.id}" is revoked; issue a new key instead`,
            );
          const key = await rotateKeyAudited(tx, actor, before.id, graceSeconds * 1000);
          return { created: key, old: await requireKey(tx, before.id) };
        });
        const json = {
          id: created.id,
          key: created.key,
          prefix: created.prefix,
          account_id: old.accountId,
          name: old.name,
          expires_at: null as string | null,
          replaces: old.id,
          replaced_key_expires_at: old.expiresAt?.toISOString() ?? null,
        };
        const fresh = await findKey(sql, created.id);
        json.expires_at = fresh?.expiresAt?.toISOString() ?? null;
        return { status: 201, json, headers: NO_STORE };
      },
    },
    {
      method: 'POST',
      path: '/admin/keys/{id}/revoke',
      summary: 'Revoke a key at once (idempotent)',
      body: { properties: {} },
      responses: { 200: { description: 'The key after revocation', schema: KEY_SCHEMA } },
      async handle({ params, actor }) {
        const key = await sql.transaction(async (tx) => {
          const before = await requireKey(tx, params.id!);
          await revokeKeyAudited(tx, actor, before.id);
          return requireKey(tx, before.id);
        });
        return { status: 200, json: keyJson(key, now()) };
      },
    },
  ];
}
