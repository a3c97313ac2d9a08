// HTTP listener → /ext_authz/<original path>: Envoy ext_authz in raw HTTP mode → AccessRequest → checkAccess.
//
// Envoy sends the client's method and `path_prefix + original :path` (query included), no body.
// Only an exact 200 allows: its headers matching `allowed_upstream_headers` overwrite the upstream
// request, `x-envoy-auth-headers-to-remove` strips the key header and spoofed `x-tollgate-*`.
// Any other 2xx-4xx is relayed to the client with its body, so a denial answers the real status.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessRequestFromHeaders } from '../access-request-from-headers.js';
import { renderFlat } from '../headers.js';
import type { DecisionContext } from './nginx-check.js';
import { sendFailure } from './send-problem.js';

export const ENVOY_HTTP_PREFIX = '/ext_authz';

export async function envoyHttp(
  ctx: DecisionContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const rest = (req.url ?? '').slice(ENVOY_HTTP_PREFIX.length);
    const path = rest.startsWith('/') ? rest : `/${rest}`;
    const request = accessRequestFromHeaders('envoy_http', req.headers, req.method ?? 'GET', path);
    const decision = await ctx.checkAccess(request);
    const rendered = renderFlat(decision, request);
    const headers = rendered.client;
    if (decision.allowed) {
      for (let i = 0; i < rendered.upstream.length; i++) headers.push(rendered.upstream[i]!);
      if (rendered.removeHeaders.length > 0)
        headers.push('x-envoy-auth-headers-to-remove', rendered.removeHeaders.join(', '));
      headers.push('content-length', '0');
      res.writeHead(200, headers);
      res.end();
      return;
    }
    headers.push('content-length', String(Buffer.byteLength(rendered.body)));
    res.writeHead(rendered.status, headers);
    res.end(rendered.body);
  } catch (err) {
    sendFailure(res, err, ctx.logger);
  }
}
