// Every node:http listener (HTTP_PORT, ADMIN_PORT): requests the parser rejects never reach a handler.

import type { Duplex } from 'node:stream';

const CLIENT_ERROR_STATUS: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * Oversize or malformed headers, invalid bytes in the target: answer 431 / 408 / 400 and close,
 * without letting a socket error escape (node's default would only destroy the socket).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage)
    return void socket.destroy();
  const status = CLIENT_ERROR_STATUS[err.code ?? ''] ?? '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
