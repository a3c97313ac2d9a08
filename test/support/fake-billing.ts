// A stand-in for the billing API in tests: Stripe's POST /v1/billing/meter_events (form-encoded) and a
// signed-webhook receiver (POST /webhook). Records what it receives, checks signatures, dedupes by
// identifier as Stripe does, and fails on purpose: 500s, timeouts (processed, never answered), dropped
// connections (not processed), or answers held until release() (to kill the sender mid-batch).

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { closeHttpServer, listenHttp } from '../../src/transports/http/listen-http.js';

export type FakeMode = 'ok' | 'error500' | 'timeout' | 'drop' | 'chaos' | 'hold';

export interface FakeEvent {
  identifier: string;
  customer: string | null;
  value: number | null;
  kind: string;
  body: Record<string, unknown>;
}

export interface FakeBilling {
  url: string;
  port: number;
  mode: FakeMode;
  /** Every request that reached a handler (failed ones too). */
  requests: number;
  /** Accepted deliveries, duplicates included (the wire-level count). */
  deliveries: number;
  /** identifier → the first accepted event (what Stripe would count). */
  events: Map<string, FakeEvent>;
  badSignatures: number;
  /** Requests whose answer is held (mode `hold`: processed, answer pending). */
  readonly held: number;
  /** Answers every held request with 200. */
  release(): void;
  stop(): Promise<void>;
}

export async function startFakeBilling(
  options: { webhookSecret?: string; stripeKey?: string } = {},
): Promise<FakeBilling> {
  const heldAnswers: Array<() => void> = [];
  const sockets = new Set<Socket>();
  let chaos = 0;
  const fake: FakeBilling = {
    url: '',
    port: 0,
    mode: 'ok',
    requests: 0,
    deliveries: 0,
    events: new Map(),
    badSignatures: 0,
    get held() {
      return heldAnswers.length;
    },
    release() {
      for (const answer of heldAnswers.splice(0)) answer();
    },
    stop: async () => {
      fake.release();
      for (const socket of sockets) socket.destroy();
      await closeHttpServer(server, 100);
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      fake.requests++;
      const raw = Buffer.concat(chunks).toString('utf8');
      const mode =
        fake.mode === 'chaos' ? (['error500', 'timeout', 'drop'] as const)[chaos++ % 3]! : fake.mode;
      if (mode === 'drop') return void req.socket.destroy();
      if (mode === 'error500') return json(res, 500, { error: { type: 'api_error', message: 'on purpose' } });
      const event =
        req.url === '/v1/billing/meter_events'
          ? stripeEvent(req.headers.authorization, raw, options.stripeKey)
          : webhookEvent(req.headers['tollgate-signature'], raw, options.webhookSecret);
      if (!event) {
        fake.badSignatures++;
        return json(res, 401, { error: { message: 'bad signature or key' } });
      }
      fake.deliveries++;
      if (!fake.events.has(event.identifier)) fake.events.set(event.identifier, event);
      if (mode === 'timeout') return; // processed, never answered: the sender times out and retries
      const answer = () =>
        json(res, 200, {
          object: 'billing.meter_event',
          identifier: event.identifier,
          event_name: event.body.event_name ?? null,
          livemode: false,
        });
      if (mode === 'hold') heldAnswers.push(answer);
      else answer();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  fake.port = await listenHttp(server, '127.0.0.1', 0);
  fake.url = `http://127.0.0.1:${fake.port}`;
  return fake;
}

function stripeEvent(
  authorization: string | undefined,
  raw: string,
  key: string | undefined,
): FakeEvent | null {
  if (key !== undefined && authorization !== `Bearer ${key}`) return null;
  const form = new URLSearchParams(raw);
  const identifier = form.get('identifier');
  if (!identifier || !form.get('event_name')) return null;
  const body = Object.fromEntries(form.entries());
  return {
    identifier,
    customer: form.get('payload[stripe_customer_id]'),
    value: Number(form.get('payload[value]')),
    kind: 'usage',
    body,
  };
}

function webhookEvent(
  header: string | string[] | undefined,
  raw: string,
  secret: string | undefined,
): FakeEvent | null {
  const match = typeof header === 'string' ? /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header) : null;
  if (!match || secret === undefined) return null;
  const expected = createHmac('sha256', secret).update(`${match[1]}.${raw}`).digest();
  if (!timingSafeEqual(expected, Buffer.from(match[2]!, 'hex'))) return null;
  const body = JSON.parse(raw) as Record<string, unknown>;
  const data = body.data as Record<string, unknown>;
  return {
    identifier: body.id as string,
    customer: (body.billing_customer_id as string | null) ?? null,
    value: typeof data.units === 'number' ? data.units : null,
    kind: body.kind as string,
    body,
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'request-id': `req_fake_${Date.now()}`,
  });
  res.end(text);
}
