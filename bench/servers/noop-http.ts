// Reference point (the ceiling of the HTTP path): a no-op node:http server with Tollgate's server
// options, answering 204 to everything. Prints its port on stdout.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const server = createServer(
  {
    maxHeaderSize: 32 * 1024,
    requestTimeout: 15_000,
    headersTimeout: 10_000,
    keepAliveTimeout: 75_000,
    noDelay: true,
  },
  (_req, res) => {
    res.writeHead(204);
    res.end();
  },
);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
