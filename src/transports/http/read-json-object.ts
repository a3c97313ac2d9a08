// HTTP listener: a small JSON object body, or a clear 400/413/415 problem answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCappedBody } from './read-capped-body.js';
import { sendProblem } from './send-problem.js';

/**
 * The body's JSON object, or null after answering. `example`: the body to show in errors; `known`:
 * the only fields allowed (an unknown one is a 400 naming it).
 */
export async function readJsonObject(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  example: string,
  known: readonly string[],
): Promise<Record<string, unknown> | null> {
  const bad = (detail: string) => (sendProblem(res, 400, 'invalid_request', 'Invalid request', detail), null);
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type))
    return (
      sendProblem(res, 415, 'unsupported_media_type', 'Unsupported media type', 'Send application/json.'),
      null
    );
  const raw = await readCappedBody(req, res, maxBytes);
  if (raw === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    return bad(`The body must be JSON: ${example}.`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return bad(`The body must be a JSON object: ${example}.`);
  const unknown = Object.keys(body).filter((k) => !known.includes(k));
  if (unknown.length > 0) return bad(`unknown field: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return body as Record<string, unknown>;
}
