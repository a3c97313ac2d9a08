// HTTP listener, public self-service POSTs (/v1/signup, /v1/signup/confirm): a small JSON body with one
// string field, or a clear 400/413/415 problem answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCappedBody } from '../http/read-capped-body.js';
import { sendProblem } from '../http/send-problem.js';

const MAX_BODY_BYTES = 4 * 1024;

/** The field's string value, or null after answering. `example`: the body to show in errors. */
export async function readJsonField(
  req: IncomingMessage,
  res: ServerResponse,
  field: string,
  example: string,
): Promise<string | null> {
  const bad = (detail: string) => (sendProblem(res, 400, 'invalid_request', 'Invalid request', detail), null);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type))
    return (
      sendProblem(res, 415, 'unsupported_media_type', 'Unsupported media type', 'Send application/json.'),
      null
    );
  const raw = await readCappedBody(req, res, MAX_BODY_BYTES);
  if (raw === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return bad(`The body must be JSON: ${example}.`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad(`The body must be a JSON object: ${example}.`);
  const unknown = Object.keys(body).filter((k) => k !== field);
  if (unknown.length > 0) return bad(`unknown field: ${unknown.join(', ')} (known: ${field})`);
  const value = (body as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : bad(`${field}: is required (a string)`);
}
