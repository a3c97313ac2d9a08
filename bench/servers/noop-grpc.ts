// Reference point (the ceiling of the gRPC path): a no-op @grpc/grpc-js ext_authz server with the
// same proto and server options as Tollgate. It decodes the CheckRequest (grpc-js deserialises with
// the generated code) and answers an OK CheckResponse. Prints its port on stdout.

import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { AuthorizationService, type AuthorizationServer, type CheckResponse } from '../../src/generated/envoy/service/auth/v3/external_auth.js';

const OK: CheckResponse = { status: { code: status.OK, message: '', details: [] } };

const service: AuthorizationServer = {
  check: (call, callback) => {
    // Touch the decoded request like a real handler would (the key header).
    if (call.request.attributes?.request?.http?.headers['x-api-key'] === undefined) return callback(null, { status: { code: status.UNAUTHENTICATED, message: '', details: [] } });
    callback(null, OK);
  },
};

const server = new Server({
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.max_concurrent_streams': 1_000,
});
server.addService(AuthorizationService, service);
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
