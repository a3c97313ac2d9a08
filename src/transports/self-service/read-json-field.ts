// HTTP listener, public self-service POSTs (/v1/signup, /v1/signup/confirm): a small JSON body with one
// string field, or a clear 400/413/415 problem answer.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJsonObject } from '../http/read-json-object.js';
import { sendProblem } from '../http/send-problem.js';

const MAX_BODY_BYTES = 4 * 1024;

/** The field's string value, or null after answering. `example`: the body to show in errors. */
export async function readJsonField(
  req: IncomingMessage,
  res: ServerResponse,
  field: string,
  example: string,
): Promise<string | null> {
  const body = await readJsonObject(req, res, MAX_BODY_BYTES, example, [field]);
  if (body === null) return null;
  const value = body[field];
  if (typeof value === 'string') return value;
  sendProblem(res, 400, 'invalid_request', 'Invalid request', `${field}: is required (a string)`);
  return null;
}
