// Importer step 1: one envoyproxy/ratelimit config file → typed descriptors, rejecting what its Go
// loader rejects (same messages), each problem placed at `file:line:col: path`.

import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Scalar } from 'yaml';

/** Every key the Go loader accepts anywhere in a file (config_impl.go validKeys, 2026). */
const VALID_KEYS = new Set([
  'domain',
  'key',
  'value',
  'descriptors',
  'rate_limit',
  'unit',
  'requests_per_unit',
  'unlimited',
  'shadow_mode',
  'quota_mode',
  'name',
  'replaces',
  'detailed_metric',
  'value_to_metric',
  'share_threshold',
  'metadata',
]);

export interface EnvoyRateLimit {
  unit: string;
  requestsPerUnit: number;
  unlimited: boolean;
  name: string;
  replaces: string[];
}

export interface EnvoyDescriptor {
  /** `descriptors[0].descriptors[2]`, for messages. */
  path: string;
  node: Node;
  key: string;
  value: string;
  rateLimit?: EnvoyRateLimit;
  shadowMode: boolean;
  shareThreshold: boolean;
  quotaMode: boolean;
  /** Fields with no effect on decisions (stats, dynamic metadata) that were set. */
  dropped: string[];
  descriptors: EnvoyDescriptor[];
}

/** Tollgate's own top-level keys (envoyproxy/ratelimit rejects them): per-domain settings. */
const TOLLGATE_TOP_KEYS = new Set(['counting', 'response_headers']);

export interface EnvoyConfig {
  domain: string;
  /** Tollgate's top-level `counting` / `response_headers`, as written (checked by the importer). */
  counting: string;
  responseHeaders: string;
  descriptors: EnvoyDescriptor[];
  /** Throws the problem at `node` (a ConfigProblem naming file, line, column and path). */
  fail(node: Node | null | undefined, path: string, message: string): never;
}

export class ConfigProblem extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(message);
  }
}

export function readEnvoyConfig(file: string, text: string): EnvoyConfig {
  const lineCounter = new LineCounter();
  // YAML 1.1, as Go's yaml.v2 reads it (yes/no/on/off are booleans).
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, version: '1.1' });
  const fail = (node: Node | null | undefined, path: string, message: string): never => {
    const pos = node?.range ? lineCounter.linePos(node.range[0]) : { line: 1, col: 1 };
    throw new ConfigProblem(`${file}:${pos.line}:${pos.col}${path ? `: ${path}` : ''}`, message);
  };
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0] ?? { line: 1, col: 1 };
    throw new ConfigProblem(
      `${file}:${pos.line}:${pos.col}`,
      `error loading config file: ${first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  const root = doc.contents;
  if (root === null) return { domain: '', counting: '', responseHeaders: '', descriptors: [], fail };
  if (!isMap(root)) return fail(root, '', 'error loading config file: the document is not a mapping');
  validateKeys(root, '', fail);
  const top = (k: string) => str(root.get(k, true) as Node | undefined, k, fail);
  return {
    domain: top('domain'),
    counting: top('counting'),
    responseHeaders: top('response_headers'),
    descriptors: readDescriptors(root.get('descriptors', true), 'descriptors', fail),
    fail,
  };
}

type Fail = EnvoyConfig['fail'];

/** config_impl.go validateYamlKeys: string keys from the known set; lists hold maps; leaves are string, int, bool or null. */
function validateKeys(map: Node, path: string, fail: Fail): void {
  if (!isMap(map)) return;
  for (const pair of map.items) {
    const keyNode = pair.key as Node;
    const key = isScalar(keyNode) ? keyNode.value : keyNode;
    if (typeof key !== 'string')
      fail(
        keyNode,
        path,
        `config error, key is not of type string: ${String(isScalar(keyNode) ? (keyNode.source ?? key) : key)}`,
      );
    const at = path ? `${path}.${key}` : (key as string);
    if (!VALID_KEYS.has(key as string) && !(path === '' && TOLLGATE_TOP_KEYS.has(key as string)))
      fail(keyNode, at, `config error, unknown key '${key as string}'`);
    const value = pair.value as Node | null;
    if (key === 'metadata') continue; // returned as dynamic metadata: any shape
    if (isSeq(value)) {
      value.items.forEach((item, i) => {
        const node = item as Node;
        if (!isMap(node))
          fail(
            node,
            `${at}[${i}]`,
            `config error, yaml file contains list of type other than map: ${isScalar(node) ? String(node.source ?? node.value) : '[…]'}`,
          );
        validateKeys(node, `${at}[${i}]`, fail);
      });
    } else if (isMap(value)) validateKeys(value, at, fail);
    else if (isScalar(value) && typeof value.value === 'number' && !Number.isInteger(value.value))
      fail(value, at, 'error checking config');
  }
}

function readDescriptors(node: unknown, path: string, fail: Fail): EnvoyDescriptor[] {
  if (node === undefined || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node))
    return fail(
      node as Node,
      path,
      `error loading config file: cannot unmarshal ${kind(node)} into a list of descriptors`,
    );
  return node.items.map((item, i) => readDescriptor(item as Node, `${path}[${i}]`, fail));
}

function readDescriptor(node: Node, path: string, fail: Fail): EnvoyDescriptor {
  if (!isMap(node)) return fail(node, path, 'error loading config file: expected a mapping');
  const get = (k: string) => node.get(k, true) as Node | undefined;
  const descriptor: EnvoyDescriptor = {
    path,
    node,
    key: str(get('key'), `${path}.key`, fail),
    value: str(get('value'), `${path}.value`, fail),
    shadowMode: bool(get('shadow_mode'), `${path}.shadow_mode`, fail),
    shareThreshold: bool(get('share_threshold'), `${path}.share_threshold`, fail),
    quotaMode: bool(get('quota_mode'), `${path}.quota_mode`, fail),
    dropped: ['detailed_metric', 'value_to_metric', 'metadata'].filter((k) => node.has(k)),
    descriptors: readDescriptors(get('descriptors'), `${path}.descriptors`, fail),
  };
  const rl = get('rate_limit');
  if (rl !== undefined && !(isScalar(rl) && rl.value === null))
    descriptor.rateLimit = readRateLimit(rl, `${path}.rate_limit`, fail);
  return descriptor;
}

function readRateLimit(node: Node, path: string, fail: Fail): EnvoyRateLimit {
  if (!isMap(node))
    return fail(
      node,
      path,
      `error loading config file: cannot unmarshal ${kind(node)} into a rate_limit mapping`,
    );
  const get = (k: string) => node.get(k, true) as Node | undefined;
  const replacesNode = get('replaces');
  const replaces =
    replacesNode === undefined || (isScalar(replacesNode) && replacesNode.value === null)
      ? []
      : isSeq(replacesNode)
        ? replacesNode.items.map((item, i) =>
            str(
              isMap(item) ? (item.get('name', true) as Node | undefined) : undefined,
              `${path}.replaces[${i}].name`,
              fail,
            ),
          )
        : fail(
            replacesNode,
            `${path}.replaces`,
            `error loading config file: cannot unmarshal ${kind(replacesNode)} into a list of replaces`,
          );
  return {
    unit: str(get('unit'), `${path}.unit`, fail),
    requestsPerUnit: uint32(get('requests_per_unit'), `${path}.requests_per_unit`, fail),
    unlimited: bool(get('unlimited'), `${path}.unlimited`, fail),
    name: str(get('name'), `${path}.name`, fail),
    replaces,
  };
}

/** yaml.v2 decodes any scalar into a string field as its text (`value: 123` → "123"). */
function str(node: Node | undefined, path: string, fail: Fail): string {
  if (node === undefined || (isScalar(node) && node.value === null)) return '';
  if (!isScalar(node))
    return fail(node, path, `error loading config file: cannot unmarshal ${kind(node)} into string`);
  return typeof node.value === 'string' ? node.value : String((node as Scalar).source ?? node.value);
}

function uint32(node: Node | undefined, path: string, fail: Fail): number {
  if (node === undefined || (isScalar(node) && node.value === null)) return 0;
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 4_294_967_295) return v;
  return fail(node, path, `error loading config file: cannot unmarshal ${kind(node)} into uint32`);
}

function bool(node: Node | undefined, path: string, fail: Fail): boolean {
  if (node === undefined || (isScalar(node) && node.value === null)) return false;
  if (isScalar(node) && typeof node.value === 'boolean') return node.value;
  return fail(node, path, `error loading config file: cannot unmarshal ${kind(node)} into bool`);
}

/** How yaml.v2 names a node in its unmarshal errors: !!str `abc`, !!map, !!seq. */
function kind(node: unknown): string {
  if (isMap(node)) return '!!map';
  if (isSeq(node)) return '!!seq';
  if (isScalar(node))
    return `!!${typeof node.value === 'number' ? (Number.isInteger(node.value) ? 'int' : 'float') : typeof node.value === 'boolean' ? 'bool' : 'str'} \`${String(node.source ?? node.value)}\``;
  return 'a value';
}
