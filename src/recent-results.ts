// A pure function's recent results, for hot paths that would otherwise rebuild the same value call
// after call (an account's Redis keys, an RLS counter id). Bounded: cleared whole when full, so a
// key past the bound is computed again, as without the cache; `make` must be pure, so the cache
// never changes an answer.

export function recentResults<V>(max: number, make: (key: string) => V): (key: string) => V {
  const results = new Map<string, V>();
  return (key) => {
    let value = results.get(key);
    if (value === undefined) {
      if (results.size >= max) results.clear();
      value = make(key);
      results.set(key, value);
    }
    return value;
  };
}
