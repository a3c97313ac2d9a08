// HTTP listener, public self-service POSTs (/v1/signup, /v1/signup/confirm): a small JSON body with one
// string field, or a clear 400/413/415 problem answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
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
  const tooLarge = () => (
    sendProblem(res, 413, 'payload_too_large', 'Payload too large', `at most ${MAX_BODY_BYTES} bytes`, [
      'connection',
      'close',
    ]),
    null
  );
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return tooLarge();
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/json\b/i.test(type))
    return (
      sendProblem(res, 415, 'unsupported_media_type', 'Unsupported media type', 'Send application/json.'),
      null
    );
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return tooLarge();
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
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
