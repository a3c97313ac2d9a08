// The ext_proc protos Tollgate serves are a subset of the upstream ones (test/fixtures/envoy-upstream):
// every message and field in proto/ must carry the upstream number, type, label and oneof, or Envoy
// and Tollgate would read each other's bytes differently.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { upstreamExtProcRoot } from '../support/ext-proc-client.js';
import { ROOT } from '../support/processes.js';

function subsetRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const file of [
    'proto/envoy/service/ext_proc/v3/external_processor.proto',
    'proto/envoy/extensions/filters/http/ext_proc/v3/processing_mode.proto',
    'proto/envoy/config/core/v3/base.proto',
  ])
    protobuf.parse(readFileSync(join(ROOT, file), 'utf8'), root, { keepCase: true });
  for (const name of ['duration', 'struct', 'any', 'wrappers'])
    root.addJSON(protobuf.common.get(`google/protobuf/${name}.proto`)!.nested!);
  root.resolveAll();
  return root;
}

/** Every message type under a namespace, by full name. */
function messages(ns: protobuf.NamespaceBase, out = new Map<string, protobuf.Type>()) {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.set(nested.fullName, nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) messages(nested, out);
  }
  return out;
}

const shape = (field: protobuf.Field) => ({
  id: field.id,
  type: field.resolvedType?.fullName ?? field.type,
  repeated: field.repeated,
  map: field.map,
  oneof: field.partOf?.name,
});

describe('proto/ ext_proc subset', () => {
  const upstream = upstreamExtProcRoot();
  upstream.resolveAll();
  const ours = subsetRoot();
  const pkgs = ['envoy.service.ext_proc.v3', 'envoy.extensions.filters.http.ext_proc.v3'];

  it('has only upstream messages and fields, each with its upstream number and type', () => {
    let checked = 0;
    for (const pkg of pkgs)
      for (const [name, type] of messages(ours.lookup(pkg) as protobuf.Namespace)) {
        const theirs = upstream.lookupType(name);
        for (const field of type.fieldsArray) {
          const match = theirs.fields[field.name];
          expect(match, `${name}.${field.name} is not upstream`).toBeDefined();
          expect(shape(field), `${name}.${field.name}`).toEqual(shape(match!));
          checked++;
        }
      }
    expect(checked).toBeGreaterThan(40);
  });

  it('has the upstream enum values', () => {
    for (const name of [
      '.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.HeaderSendMode',
      '.envoy.extensions.filters.http.ext_proc.v3.ProcessingMode.BodySendMode',
      '.envoy.service.ext_proc.v3.CommonResponse.ResponseStatus',
    ])
      expect((ours.lookupEnum(name) as protobuf.Enum).values).toEqual(upstream.lookupEnum(name).values);
  });

  it('serves the upstream method: a bidirectional Process', () => {
    const path = 'envoy.service.ext_proc.v3.ExternalProcessor';
    const method = (root: protobuf.Root) => {
      const m = root.lookupService(path).methods.Process!;
      return [m.requestType, m.responseType, m.requestStream, m.responseStream];
    };
    expect(method(ours)).toEqual(method(upstream));
    expect(method(ours)).toEqual(['ProcessingRequest', 'ProcessingResponse', true, true]);
  });
});
