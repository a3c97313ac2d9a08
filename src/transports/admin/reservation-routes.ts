// Admin API: metered calls' open reservations — list one account's, settle or cancel one by id.
// A settle here is the same atomic, once-only settle as POST /internal/usage/settle.

import { MAX_SETTLE_UNITS, type SettleResult } from '../../metering/reservation-settler.js';
import { requireAccountView } from './account-routes.js';
import { HttpError } from './admin-http.js';
import type { AdminDeps, AdminRoute } from './admin-route.js';

const SETTLE_RESULT_SCHEMA = {
  type: 'object',
  properties: {
    outcome: { enum: ['settled', 'already_settled'] },
    reserved: { type: 'integer' },
    units: { type: 'integer' },
  },
  required: ['outcome'],
};

export function reservationRoutes({ sql, reservations }: AdminDeps): AdminRoute[] {
  const store = () => {
    if (!reservations)
      throw new HttpError(501, 'not_implemented', 'Not implemented', 'this server has no counters');
    return reservations;
  };
  const answer = (result: SettleResult) => {
    if (result.outcome === 'unknown')
      throw new HttpError(404, 'unknown_reservation', 'Unknown reservation', 'no such reservation');
    return { status: 200, json: result };
  };
  return [
    {
      method: 'GET',
      path: '/admin/accounts/{id}/reservations',
      summary: 'Open reservations of metered calls (not yet settled nor expired), soonest expiry first',
      responses: {
        200: {
          description: 'The open reservations',
          schema: {
            type: 'object',
            properties: {
              account_id: { type: 'string' },
              reservations: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'string' },
                    endpoint: { type: 'string' },
                    units: { type: 'integer' },
                    expires_at: { type: 'string', format: 'date-time' },
                  },
                },
              },
            },
          },
        },
        501: { description: 'This server was started without counters' },
      },
      async handle({ params }) {
        const account = await requireAccountView(sql, params.id!);
        const open = await store().openReservations(account.id);
        return {
          status: 200,
          json: {
            account_id: account.id,
            reservations: open.map((r) => ({
              id: r.id,
              endpoint: r.endpoint,
              units: r.units,
              expires_at: new Date(r.expiresAtMs).toISOString(),
            })),
          },
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/reservations/{id}/settle',
      summary:
        'Settle a reservation at its actual units (omitted: the reserved amount); applied once, a repeat answers already_settled',
      body: {
        properties: {
          units: {
            type: 'integer',
            minimum: 0,
            maximum: MAX_SETTLE_UNITS,
            description: 'The actual units; omitted = the reserved amount.',
          },
        },
      },
      responses: { 200: { description: 'What the settle did', schema: SETTLE_RESULT_SCHEMA } },
      async handle({ params, body }) {
        const units = typeof body.units === 'number' ? body.units : null;
        return answer(await store().settle(params.id!, units));
      },
    },
    {
      method: 'POST',
      path: '/admin/reservations/{id}/cancel',
      summary: 'Cancel a reservation: settle it at 0 units (the call is still counted as a call)',
      responses: { 200: { description: 'What the cancel did', schema: SETTLE_RESULT_SCHEMA } },
      async handle({ params }) {
        return answer(await store().settle(params.id!, 0));
      },
    },
  ];
}
