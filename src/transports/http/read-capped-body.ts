// HTTP listener edge: a request body read whole up to a cap, or a 413 problem answer (and the
// connection closed) the moment it is over, so no route buffers more than it allows.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendProblem } from './send-problem.js';

/** The body as sent, or null after answering 413. */
export async function readCappedBody(
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): Promise<Buffer | null> {
  const tooLarge = () => (
    sendProblem(res, 413, 'payload_too_large', 'Payload too large', `at most ${maxBytes} bytes`, [
      'connection',
      'close',
    ]),
    null
  );
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return tooLarge();
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
