// The app behind the proxy in end-to-end tests: a node:http server recording what reaches it.

import { createServer, type IncomingHttpHeaders } from 'node:http';
import { closeHttpServer, listenHttp } from '../../src/transports/http/listen-http.js';

export interface UpstreamRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TestUpstream {
  port: number;
  /** Every request that reached the app, in order. */
  requests: UpstreamRequest[];
  last(): UpstreamRequest;
  stop(): Promise<void>;
}

export async function startUpstream(): Promise<TestUpstream> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end('{"ok":true}\n');
    });
  });
  const port = await listenHttp(server, '127.0.0.1', 0);
  return {
    port,
    requests,
    last() {
      const request = requests[requests.length - 1];
      if (!request) throw new Error('no request reached the upstream');
      return request;
    },
    stop: () => closeHttpServer(server),
  };
}
