/**
 * Seeds side by side: PostgreSQL seeds spend most of their time waiting for
 * the server, so a few run at once in one process. Each seed's world (its
 * scheduler, its real calls, its schema) is its own, so a seed's report is the
 * same whether it ran alone or beside others.
 */

/** Runs `work` on every item, at most `lanes` at a time; the results are in the items' order. */
export async function inLanes<T, R>(items: readonly T[], lanes: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, items.length)) }, lane));
  return results;
}
