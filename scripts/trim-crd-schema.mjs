// Dev tool, not shipped: copies the OpenAPI schema of one CRD version out of an upstream CRD file,
// without descriptions and keeping only the named top-level spec fields, for the mesh manifest tests
// (test/unit/mesh-manifests.test.ts). Usage:
//   node scripts/trim-crd-schema.mjs <crds.yaml> <Kind> <version> <specField,...|*> > test/fixtures/crds/<file>.json

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const [file, kind, version, fields] = process.argv.slice(2);
if (!file || !kind || !version || !fields) {
  console.error('usage: trim-crd-schema.mjs <crds.yaml> <Kind> <version> <specField,...|*>');
  process.exit(2);
}
// Helm-templated CRD files wrap the documents in {{ if }} lines.
const text = readFileSync(file, 'utf8')
  .split('\n')
  .filter((line) => !line.trim().startsWith('{{'))
  .join('\n');
const crd = parseAllDocuments(text)
  .map((doc) => doc.toJS())
  .find((doc) => doc?.kind === 'CustomResourceDefinition' && doc.spec.names.kind === kind);
if (!crd) throw new Error(`${file}: no CRD of kind ${kind}`);
const served = crd.spec.versions.find((v) => v.name === version);
if (!served) throw new Error(`${kind}: no version ${version}`);

const strip = (node) => {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key]) => key !== 'description')
      .map(([key, value]) => [key, strip(value)]),
  );
};
const schema = strip(served.schema.openAPIV3Schema);
if (fields !== '*') {
  const keep = new Set(fields.split(','));
  const spec = schema.properties.spec;
  spec.properties = Object.fromEntries(Object.entries(spec.properties).filter(([name]) => keep.has(name)));
  // Rules over fields that were cut cannot be evaluated on the copy.
  delete spec['x-kubernetes-validations'];
}
const group = crd.spec.group;
process.stdout.write(
  `${JSON.stringify({ apiVersion: `${group}/${version}`, kind, source: process.argv[6] ?? file, openAPIV3Schema: schema }, null, 1)}\n`,
);
