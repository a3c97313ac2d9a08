// The transport-neutral question every proxy asks: who is calling, what are they calling.

/** Where a decision came from; `rls` is Envoy's rate-limit service (ShouldRateLimit). */
export type Transport = 'grpc' | 'http' | 'envoy_http' | 'cli' | 'rls';

export interface AccessRequest {
  transport: Transport;
  /** The API key as sent, or undefined when no key header was present. Never logged. */
  apiKey: string | undefined;
  /** Which request header carried the key, so the transport can strip it before the upstream. */
  keyHeader: 'x-api-key' | 'authorization' | undefined;
  /** Upper-case HTTP method of the client request. */
  method: string;
  /** Raw request target as received (may hold a query string and percent-encoding). */
  path: string;
  /** Endpoint named by the proxy (Envoy `context_extensions["tollgate.endpoint"]`). */
  endpointHint?: string;
  /** Cost named by the proxy (Envoy `context_extensions["tollgate.cost"]`), in quota units. */
  costHint?: number;
  /**
   * Names (lower-case) of client-sent headers removed before the upstream besides the key headers:
   * every `x-tollgate-*` / `x_tollgate_*` spelling and underscore spellings of `x-api-key` (WSGI and
   * CGI read `_` as `-`).
   */
  spoofedHeaders: string[];
  /** Correlation id for logs (Envoy `x-request-id` when present). */
  requestId?: string;
  /** The request's headers (lower-case names), read by a metered endpoint's `reserve_header`. */
  headers?: RequestHeaders;
}

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;
