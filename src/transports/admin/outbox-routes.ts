// Admin API: the export outbox — rows pending or failed (kept for inspection), and a manual retry (audited).

import { writeAudit } from '../../accounts/audit-log.js';
import {
  listOutbox,
  retryOutboxRow,
  type OutboxState,
  type OutboxView,
} from '../../export/outbox-queries.js';
import { HttpError } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';

/** Failed deliveries after which a row counts as failed (EXPORT_MAX_ATTEMPTS; the exporter's own setting). */
const DEFAULT_MAX_ATTEMPTS = 20;

const ROW_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['usage', 'quota.threshold', 'tier.changed'] },
    account_id: { type: 'string' },
    payload: { type: 'object' },
    created_at: { type: 'string', format: 'date-time' },
    attempts: { type: 'integer' },
    last_error: { type: ['string', 'null'] },
    next_attempt_at: { type: 'string', format: 'date-time' },
  },
} as const;

const rowJson = (r: OutboxView) => ({
  id: r.id,
  kind: r.kind,
  account_id: r.accountId,
  payload: r.payload,
  created_at: r.createdAt.toISOString(),
  attempts: r.attempts,
  last_error: r.lastError,
  next_attempt_at: r.nextAttemptAt.toISOString(),
});

export function outboxRoutes({ sql, exportMaxAttempts = DEFAULT_MAX_ATTEMPTS }: AdminDeps): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/outbox',
      summary:
        'Undelivered export rows: pending (still retried with backoff) or failed (gave up; kept until retried), oldest first, at most 100',
      query: { properties: { state: { type: 'string', enum: ['pending', 'failed'] } }, required: ['state'] },
      responses: {
        200: {
          description: 'The rows',
          schema: {
            type: 'object',
            properties: { state: { type: 'string' }, rows: { type: 'array', items: ROW_SCHEMA } },
          },
        },
      },
      async handle({ query }) {
        const state = query.state as OutboxState;
        return {
          status: 200,
          json: { state, rows: (await listOutbox(sql, state, exportMaxAttempts)).map(rowJson) },
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/outbox/{id}/retry',
      summary: 'Deliver an undelivered row again now, with a fresh attempt budget',
      responses: {
        200: {
          description: 'Queued again',
          schema: { type: 'object', properties: { id: { type: 'integer' }, queued: { type: 'boolean' } } },
        },
      },
      async handle({ params, actor }) {
        const id = /^\d{1,18}$/.test(params.id!) ? Number(params.id) : NaN;
        const queued =
          Number.isSafeInteger(id) &&
          (await sql.transaction(async (tx) => {
            const ok = await retryOutboxRow(tx, id);
            if (ok)
              await writeAudit(tx, { actor, action: 'outbox.retry', target: `outbox:${id}`, details: {} });
            return ok;
          }));
        if (!queued)
          throw new HttpError(404, 'not_found', 'Not found', `no undelivered outbox row "${params.id}"`);
        return { status: 200, json: { id, queued: true } };
      },
    },
  ];
}
