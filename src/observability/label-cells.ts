// Metrics, hot path: a bounded set of label tuples → one mutable cell each, found without allocating.
//
// prom-client hashes the label object on every inc/observe; here a decision walks nested Maps keyed
// by the label values (no string building, no objects) and bumps plain numbers. The registry reads
// the cells only when /metrics is scraped. Label values must come from a bounded set (the policy).

export interface LabelledCell<C> {
  labels: Record<string, string>;
  cell: C;
}

export class LabelCells<C> {
  private readonly root = new Map<string, unknown>();
  /** Every tuple seen so far, in creation order (read at scrape time). */
  readonly entries: Array<LabelledCell<C>> = [];

  constructor(
    readonly labelNames: readonly string[],
    private readonly create: () => C,
  ) {
    if (labelNames.length < 1 || labelNames.length > 5) throw new Error('LabelCells supports 1 to 5 labels');
  }

  /** The cell of one label tuple, values in `labelNames` order (unused trailing ones omitted). */
  get(v0: string, v1 = '', v2 = '', v3 = '', v4 = ''): C {
    const last = this.labelNames.length - 1;
    let level = this.root;
    for (let i = 0; i < last; i++) {
      const value = i === 0 ? v0 : i === 1 ? v1 : i === 2 ? v2 : v3;
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = last === 0 ? v0 : last === 1 ? v1 : last === 2 ? v2 : last === 3 ? v3 : v4;
    const cell = level.get(value) as C | undefined;
    return cell ?? this.add(level, value, [v0, v1, v2, v3, v4]);
  }

  private add(level: Map<string, unknown>, key: string, values: string[]): C {
    const cell = this.create();
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, i) => (labels[name] = values[i]!));
    level.set(key, cell);
    this.entries.push({ labels, cell });
    return cell;
  }
}
