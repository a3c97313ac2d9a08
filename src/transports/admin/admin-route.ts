// Admin listener: what one route is — method, path template, schemas (validated and published), handler.

import type { IncomingHttpHeaders } from 'node:http';
import type { CounterInspector } from '../../counters/counter-inspector.js';
import type { Sql } from '../../db/sql.js';
import type { ReservationStore } from '../../metering/reservation-settler.js';
import type { ObjectSchema } from './body-schema.js';

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT';

export interface AdminDeps {
  sql: Sql;
  /** Live counters for GET …/counters; without it that route answers 501. */
  inspector?: CounterInspector;
  /** Metered calls' reservations (list, settle, cancel); without it those routes answer 501. */
  reservations?: ReservationStore;
  /** Called after a policy change committed, so this replica serves it at once (others follow by refresh/NOTIFY). */
  reloadPolicy?: () => Promise<void>;
  /** EXPORT_MAX_ATTEMPTS: where an undelivered outbox row counts as failed (default 20). */
  exportMaxAttempts?: number;
  /** PAYMENT_GRACE (ms) for replayed Stripe events; without it the billing event routes are not served. */
  paymentGraceMs?: number;
  /** Counts replayed Stripe events by type and result (metrics). */
  countBillingEvent?: (type: string, result: string) => void;
  /** ms since the epoch (default Date.now), for the default billing month and key expiry checks. */
  now?: () => number;
  /** This replica's degraded state and flush lag, for GET /admin/replica. */
  replicaStatus?: () => ReplicaStatus;
}

export interface ReplicaStatus {
  degraded: boolean;
  last_flush_ok_at: string;
  flush_lag_seconds: number;
  started_at: string;
}

export interface AdminCall {
  params: Record<string, string>;
  /** Validated against `query` when the route declares one. */
  query: Record<string, string>;
  /** Validated JSON object (routes with `body`), else {}. */
  body: Record<string, unknown>;
  /** The raw body text (routes with `rawBody`). */
  text: string;
  headers: IncomingHttpHeaders;
  /** `admin`, or `admin:<X-Tollgate-Actor>`: who the audit row names. */
  actor: string;
}

export type AdminReply =
  | { status: number; json: unknown; headers?: string[] }
  | { status: number; text: string; contentType: string; headers?: string[] };

export interface ResponseDoc {
  description: string;
  /** JSON Schema of the JSON answer; omitted = any JSON. */
  schema?: Record<string, unknown>;
  /** Other media types the route can answer with (e.g. YAML). */
  contentTypes?: string[];
}

export interface AdminRoute {
  method: Method;
  /** OpenAPI path template, e.g. `/admin/accounts/{id}`. */
  path: string;
  summary: string;
  /** Default: derived from method and path; set it where that would repeat another route's. */
  operationId?: string;
  /** A JSON object body, validated before the handler runs (unknown fields → 400). */
  body?: ObjectSchema;
  /** A non-JSON body the handler parses itself (the policy document), with its media types. */
  /** `schema`: the document's JSON Schema (the policy's), for YAML and JSON alike. */
  rawBody?: {
    contentTypes: string[];
    maxBytes: number;
    description: string;
    schema?: Record<string, unknown>;
  };
  query?: ObjectSchema;
  /** Status → documentation; problem answers (400/401/404/…) are documented globally. */
  responses: Record<number, ResponseDoc>;
  handle(call: AdminCall): Promise<AdminReply>;
}
