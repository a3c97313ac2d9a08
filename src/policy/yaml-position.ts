// Policy problems → YAML line and column: a validator path (`tiers.free.limits[0].window`) found in the
// parsed document, so a semantic error points into the file like a syntax error does.

import { isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/** The deepest node the path reaches (a missing key points at its parent); undefined if none. */
export function yamlPosition(
  doc: Document,
  lines: LineCounter,
  path: string,
): { line: number; column: number } | undefined {
  let node: unknown = doc.contents;
  let rest = path.replace(/^policy(\.|$)/, '');
  let found: Node | undefined = isNode(node) ? node : undefined;
  while (rest !== '' && node) {
    const step = stepInto(node, rest);
    if (!step) break;
    [node, rest] = [step.node, step.rest.replace(/^\./, '')];
    if (isNode(step.at)) found = step.at;
  }
  const offset = found?.range?.[0];
  if (offset === undefined) return undefined;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

function stepInto(node: unknown, rest: string): { node: unknown; at: unknown; rest: string } | undefined {
  const index = /^\[(\d+)\]/.exec(rest);
  if (index && isSeq(node)) {
    const item = node.items[Number(index[1])];
    return item === undefined ? undefined : { node: item, at: item, rest: rest.slice(index[0].length) };
  }
  if (!isMap(node)) return undefined;
  let best: { node: unknown; at: unknown; rest: string; length: number } | undefined;
  for (const pair of node.items) {
    if (!isPair(pair)) continue;
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const after = rest.slice(key.length);
    if (!rest.startsWith(key) || !(after === '' || after.startsWith('.') || after.startsWith('['))) continue;
    if (best && best.length >= key.length) continue;
    const at = isNode(pair.value) && pair.value.range ? pair.value : pair.key;
    best = { node: pair.value, at, rest: after, length: key.length };
  }
  return best;
}

function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && 'range' in value;
}
