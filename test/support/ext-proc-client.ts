// An Envoy ext_proc client for tests, built from the UPSTREAM protos (test/fixtures/envoy-upstream,
// copied from envoyproxy/data-plane-api) with protobufjs and @grpc/grpc-js: an encoder and decoder
// independent of the server's generated code, so a field number the server got wrong shows up here.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClientDuplexStream,
  credentials,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { ROOT } from './processes.js';

const UPSTREAM = join(ROOT, 'test/fixtures/envoy-upstream');

/** The upstream ext_proc protos; base.proto and http_status.proto are the repo's wire-compatible copies. */
export function upstreamExtProcRoot(): protobuf.Root {
  const root = new protobuf.Root();
  const files = [
    join(UPSTREAM, 'envoy/service/ext_proc/v3/external_processor.proto'),
    join(UPSTREAM, 'envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto'),
    join(ROOT, 'proto/envoy/config/core/v3/base.proto'),
    join(ROOT, 'proto/envoy/type/v3/http_status.proto'),
  ];
  for (const file of files) protobuf.parse(readFileSync(file, 'utf8'), root, { keepCase: true });
  for (const name of ['duration', 'struct', 'any', 'wrappers'])
    root.addJSON(protobuf.common.get(`google/protobuf/${name}.proto`)!.nested!);
  return root;
}

/**
 * The upstream ext_proc filter config (ExternalProcessor, ExtProcPerRoute), parsed but not resolved:
 * its imports (GrpcService, matchers, mutation rules) are not copied here, and field names, types
 * and enums of this file are what the shipped config is checked against.
 */
export function upstreamExtProcFilterRoot(): protobuf.Root {
  const file = join(UPSTREAM, 'envoy/extensions/filters/http/ext_proc/v3/ext_proc.proto');
  return protobuf.parse(readFileSync(file, 'utf8'), new protobuf.Root(), { keepCase: true }).root;
}

export type ExtProcMessage = Record<string, unknown>;

export interface ExtProcCall {
  send(message: ExtProcMessage): void;
  /** Half-closes (Envoy's side ends). */
  end(): void;
  cancel(): void;
  /** Answers received so far, decoded with the upstream protos (snake_case keys, oneofs as set). */
  readonly answers: ExtProcMessage[];
  /** Resolves when the server ends the call: its status code (0 = OK). */
  readonly closed: Promise<number>;
}

export function extProcClient(port: number) {
  const root = upstreamExtProcRoot();
  const Request = root.lookupType('envoy.service.ext_proc.v3.ProcessingRequest');
  const Response = root.lookupType('envoy.service.ext_proc.v3.ProcessingResponse');
  const Client = makeGenericClientConstructor(
    {
      process: {
        path: '/envoy.service.ext_proc.v3.ExternalProcessor/Process',
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: ExtProcMessage) => {
          const problem = Request.verify(value);
          if (problem) throw new Error(`test built a bad ProcessingRequest: ${problem}`);
          return Buffer.from(Request.encode(Request.fromObject(value)).finish());
        },
        requestDeserialize: (bytes: Buffer) => Request.toObject(Request.decode(bytes)),
        responseSerialize: (value: ExtProcMessage) =>
          Buffer.from(Response.encode(Response.fromObject(value)).finish()),
        responseDeserialize: (bytes: Buffer) =>
          Response.toObject(Response.decode(bytes), { oneofs: true, defaults: false }),
      },
    },
    'ExternalProcessor',
  );
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    open(): ExtProcCall {
      const call = (
        client as unknown as { process(): ClientDuplexStream<ExtProcMessage, ExtProcMessage> }
      ).process();
      const answers: ExtProcMessage[] = [];
      call.on('data', (answer: ExtProcMessage) => answers.push(answer));
      const closed = new Promise<number>((resolve) => {
        call.on('status', (status: { code: number }) => resolve(status.code));
        call.on('error', (err: ServiceError) => resolve(err.code));
      });
      return {
        send: (message) => call.write(message),
        end: () => call.end(),
        cancel: () => call.cancel(),
        answers,
        closed,
      };
    },
    close: () => client.close(),
  };
}

/** A HeaderMap as current Envoy sends it: lower-case keys, values in raw_value. */
export function headerMap(headers: Record<string, string>): ExtProcMessage {
  return {
    headers: Object.entries(headers).map(([key, value]) => ({
      key,
      raw_value: Buffer.from(value, 'latin1'),
    })),
  };
}
