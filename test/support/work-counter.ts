/**
 * Counting work instead of timing it: while {@link countWork} runs its
 * function, the builtins through which JavaScript code walks collections count
 * the elements they visit. Comparing the counts for inputs of size n and 10n
 * tells linear code (10×) from quadratic code (~100×) exactly, whatever the
 * load of the machine.
 *
 * Counted: every element an iterator yields (`for…of`, spread, destructuring,
 * `Array.from`, `new Map(…)`/`new Set(…)` of an iterable: arrays, maps and
 * sets), the length of the array every scanning array method is called on
 * (`includes`, `indexOf`, `find`, `filter`, `map`, `sort`, …), the elements
 * `slice` copies, the
 * size of a map or set walked by `forEach`, the keys `Object.keys`/`values`/
 * `entries` return, and the characters of `JSON.stringify`'s output. Not
 * counted: indexed `for (let i …)` loops and native code (SQLite). A quadratic
 * pattern written with those escapes the count; taskwire's code walks
 * collections with the counted forms.
 *
 * @packageDocumentation
 */

type Patch = { target: object; key: PropertyKey; original: unknown };

let count = 0;
let active = false;

/** Wraps an iterator so that each element it yields counts one. */
function countingIterator<T>(inner: Iterator<T>): IterableIterator<T> {
  return {
    next(): IteratorResult<T> {
      const result = inner.next();
      if (result.done !== true) count++;
      return result;
    },
    [Symbol.iterator]() {
      return this;
    },
  };
}

const SCANNING_ARRAY_METHODS = [
  'includes',
  'indexOf',
  'lastIndexOf',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
  'some',
  'every',
  'filter',
  'map',
  'forEach',
  'reduce',
  'reduceRight',
  'flatMap',
  'flat',
  'concat',
  'join',
  'splice',
  'sort',
  'reverse',
] as const;

function patches(): Patch[] {
  const list: Patch[] = [];
  const patch = (target: object, key: PropertyKey, make: (original: (...args: unknown[]) => unknown) => (...args: unknown[]) => unknown): void => {
    const original = (target as Record<PropertyKey, unknown>)[key] as (...args: unknown[]) => unknown;
    list.push({ target, key, original });
    Object.defineProperty(target, key, { value: make(original), writable: true, configurable: true, enumerable: false });
  };
  const iterating = (original: (...args: unknown[]) => unknown) =>
    function (this: unknown, ...args: unknown[]): unknown {
      return countingIterator(original.apply(this, args) as Iterator<unknown>);
    };
  for (const key of [Symbol.iterator, 'values', 'keys', 'entries'] as const) patch(Array.prototype, key, iterating);
  for (const proto of [Map.prototype, Set.prototype]) {
    for (const key of [Symbol.iterator, 'values', 'keys', 'entries'] as const) patch(proto, key, iterating);
    patch(proto, 'forEach', (original) =>
      function (this: Map<unknown, unknown> | Set<unknown>, ...args: unknown[]): unknown {
        count += this.size;
        return original.apply(this, args);
      },
    );
  }
  for (const key of SCANNING_ARRAY_METHODS) {
    patch(Array.prototype, key, (original) =>
      function (this: unknown[], ...args: unknown[]): unknown {
        count += this.length;
        return original.apply(this, args);
      },
    );
  }
  // slice copies only the span asked for (a window of a long array is as cheap as a short array's copy).
  patch(Array.prototype, 'slice', (original) =>
    function (this: unknown[], ...args: unknown[]): unknown {
      const result = original.apply(this, args) as unknown[];
      count += result.length;
      return result;
    },
  );
  for (const key of ['keys', 'values', 'entries'] as const) {
    patch(Object, key, (original) => (...args: unknown[]) => {
      const result = original(...args) as unknown[];
      count += result.length;
      return result;
    });
  }
  patch(JSON, 'stringify', (original) => (...args: unknown[]) => {
    const result = original(...args) as string | undefined;
    count += result?.length ?? 0;
    return result;
  });
  return list;
}

/**
 * Runs `fn` with the counting builtins in place (restored even when it
 * throws) and returns the number of elements visited. Keep `fn` free of timers
 * and I/O waits: whatever else runs meanwhile is counted too.
 */
export async function countWork(fn: () => unknown): Promise<number> {
  if (active) throw new Error('countWork: already counting');
  active = true;
  const applied = patches();
  count = 0;
  try {
    await fn();
    return count;
  } finally {
    for (const { target, key, original } of applied.reverse()) {
      Object.defineProperty(target, key, { value: original, writable: true, configurable: true, enumerable: false });
    }
    active = false;
  }
}
