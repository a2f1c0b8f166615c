/**
 * A memo of `compute` by string key that forgets everything once it holds `max` entries: the keys
 * of a surface repeat every probe, but some carry a changing part (a page cursor), so it must stay
 * bounded whatever comes in.
 */
export function boundedMemo<V>(compute: (key: string) => V, max: number): (key: string) => V {
  const known = new Map<string, V>();
  return (key) => {
    let value = known.get(key);
    if (value === undefined) {
      value = compute(key);
      if (known.size >= max) known.clear();
      known.set(key, value);
    }
    return value;
  };
}

/** A memo of `compute` per object, gone with the object: the poller hands one labels object to every probe of a surface. */
export function objectMemo<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const known = new WeakMap<K, V>();
  return (key) => {
    let value = known.get(key);
    if (value === undefined) {
      value = compute(key);
      known.set(key, value);
    }
    return value;
  };
}
