// HTTP listener → GET /metrics: the Prometheus exposition of the app's own registry.

import type { Registry } from 'prom-client';
import type { HttpRoute } from './http-server.js';

export function metricsRoute(registry: Registry): HttpRoute {
  return async (_req, res) => {
    const body = await registry.metrics();
    res.writeHead(200, [
      'content-type',
      registry.contentType,
      'content-length',
      String(Buffer.byteLength(body)),
    ]);
    res.end(body);
  };
}
