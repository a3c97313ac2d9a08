// Reference point (the ceiling of the gRPC paths): a no-op @grpc/grpc-js server with the same protos
// and server options as Tollgate. ext_authz Check decodes the CheckRequest (grpc-js deserialises with
// the generated code) and answers an OK CheckResponse; RLS ShouldRateLimit decodes the
// RateLimitRequest and answers overall_code OK with one OK status per descriptor. Prints its port.

import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import {
  AuthorizationService,
  type AuthorizationServer,
  type CheckResponse,
} from '../../src/generated/envoy/service/auth/v3/external_auth.js';
import {
  RateLimitServiceService,
  type RateLimitServiceServer,
} from '../../src/generated/envoy/service/ratelimit/v3/rls.js';
import { rlsOk } from './rls-ok.js';

const OK: CheckResponse = { status: { code: status.OK, message: '', details: [] } };

const authorization: AuthorizationServer = {
  check: (call, callback) => {
    // Touch the decoded request like a real handler would (the key header).
    if (call.request.attributes?.request?.http?.headers['x-api-key'] === undefined)
      return callback(null, { status: { code: status.UNAUTHENTICATED, message: '', details: [] } });
    callback(null, OK);
  },
};

const rateLimit: RateLimitServiceServer = {
  shouldRateLimit: (call, callback) => {
    // Touch the decoded request like a real handler would (domain and each descriptor's entries).
    const { domain, descriptors } = call.request;
    if (domain === '' || descriptors.length === 0)
      return callback({ code: status.INVALID_ARGUMENT, details: 'empty request' });
    callback(null, rlsOk(descriptors));
  },
};

const server = new Server({
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_concurrent_streams': 1_000,
});
server.addService(AuthorizationService, authorization);
server.addService(RateLimitServiceService, rateLimit);
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
