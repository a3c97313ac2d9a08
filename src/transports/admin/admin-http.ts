// Admin listener, wire helpers: the errors handlers throw, JSON and problem+json answers, capped body reads.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { InputError, Overloaded, StoreUnavailable } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { PROBLEM_CONTENT_TYPE } from '../headers.js';

/** A non-2xx answer a handler chooses (404, 409, 413, 415 …). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly headers: string[] = [],
  ) {
    super(detail);
  }
}

export const notFound = (what: string, id: string) =>
  new HttpError(404, 'not_found', 'Not found', `unknown ${what} "${id}"`);

/** The domain functions name fields in camelCase; the API speaks snake_case. */
const FIELD_NAMES: Record<string, string> = {
  billingAnchorDay: 'billing_anchor_day',
  billingCustomerId: 'billing_customer_id',
  expiresAt: 'expires_at',
  graceMs: 'grace_seconds',
  idempotencyKey: 'idempotency_key',
  accountId: 'account_id',
  keyId: 'key_id',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: string[] = []): void {
  const text = JSON.stringify(body);
  res.writeHead(status, [
    ...headers,
    'content-type',
    'application/json; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  text: string,
  headers: string[] = [],
): void {
  res.writeHead(status, [
    ...headers,
    'content-type',
    contentType,
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}

export function sendAdminProblem(
  res: ServerResponse,
  status: number,
  code: string,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: string[] = [],
): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify({
    type: `urn:tollgate:problem:${code}`,
    title,
    status,
    detail,
    code,
    ...extra,
  });
  res.writeHead(status, [
    ...headers,
    'content-type',
    PROBLEM_CONTENT_TYPE,
    'content-length',
    String(Buffer.byteLength(text)),
  ]);
  res.end(text);
}

/** Postgres SQLSTATE class 22 (data exception): a value from the request the database cannot hold. */
const DATA_EXCEPTIONS: Record<string, string> = {
  '22003': 'a number is out of range for the database (SQLSTATE 22003)',
  '22021': 'a text value holds a byte sequence the database refuses, e.g. U+0000 (SQLSTATE 22021)',
  '22P02': 'a value has the wrong form for the database (SQLSTATE 22P02)',
  '22007': 'a date or time has the wrong form (SQLSTATE 22007)',
  '22008': 'a date or time is out of range (SQLSTATE 22008)',
};

function isDataException(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}

/** The one place admin failures become answers: InputError → 400 naming every field, HttpError as chosen, outages → 503. */
export function sendAdminError(res: ServerResponse, err: unknown, logger: Logger | undefined): void {
  if (err instanceof InputError) {
    // A policy body's problems also carry their YAML line and column.
    const errors = err.problems.map((p) => ({
      path: FIELD_NAMES[p.path] ?? p.path,
      message: p.message,
      ...(p.line ? { line: p.line, column: p.column } : {}),
    }));
    sendAdminProblem(
      res,
      400,
      'invalid_request',
      'Invalid request',
      errors.map((p) => `${p.path}: ${p.message}`).join('; '),
      { errors },
    );
  } else if (err instanceof HttpError) {
    sendAdminProblem(res, err.status, err.code, err.title, err.message, {}, err.headers);
  } else if (isDataException(err)) {
    // What validation did not catch (the schemas name the fields they know): still the client's input.
    const code = (err as { code: string }).code;
    sendAdminProblem(
      res,
      400,
      'invalid_request',
      'Invalid request',
      DATA_EXCEPTIONS[code] ?? `a value the database refuses (SQLSTATE ${code})`,
      { sqlstate: code },
    );
  } else if (err instanceof Overloaded) {
    sendAdminProblem(res, 503, 'overloaded', 'Overloaded', 'Too many requests at once; retry shortly.', {}, [
      'retry-after',
      '1',
    ]);
  } else if (err instanceof StoreUnavailable) {
    logger?.warn({ err }, 'admin request failed: store unavailable');
    sendAdminProblem(
      res,
      503,
      'unavailable',
      'Service unavailable',
      `${err.store} is unavailable; retry shortly.`,
      {},
      ['retry-after', '1'],
    );
  } else {
    logger?.error({ err }, 'unexpected error in the admin API');
    sendAdminProblem(res, 500, 'internal_error', 'Internal error', 'The request failed; see the server log.');
  }
}

/** The body as UTF-8; HttpError 413 past `maxBytes` (checked on content-length first, then while reading). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(
      413,
      'payload_too_large',
      'Payload too large',
      `request bodies are limited to ${maxBytes} bytes`,
      ['connection', 'close'],
    );
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object body; an empty body is `{}`. 415 for another content type, 400 for broken JSON. */
export function parseJsonBody(text: string, contentType: string | undefined): unknown {
  if (text.trim() === '') return {};
  if (contentType !== undefined && !/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
    throw new HttpError(
      415,
      'unsupported_media_type',
      'Unsupported media type',
      'send the body as application/json',
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError([{ path: 'body', message: `not valid JSON (${(err as Error).message})` }]);
  }
}
