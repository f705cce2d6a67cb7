/**
 * FNV-1a, the one string hash of the code base: retry jitter, statement
 * names, and the shard of a run. Stable across processes and versions (shards
 * and statement names depend on it), so it never changes.
 *
 * @packageDocumentation
 */

/** 32-bit FNV-1a hash of `text`'s UTF-16 code units, as an unsigned integer. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
