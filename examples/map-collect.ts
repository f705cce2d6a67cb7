/**
 * Map and collect: `resize` fans out over the list of pages that `listPages`
 * provides, one child `resize[i]` per page, at most 3 at once, each retried on
 * its own (page 2 fails its first attempt); `album` collects the resized pages
 * and the cover (a second source of the same input) into one list, in link
 * order: the cover first, then the pages in page order.
 *
 * ```
 * npx tsx examples/map-collect.ts      # embedded, in memory: prints the children and the album
 * taskwire run examples/map-collect.ts # the flow (the default export), the map's children counted in `taskwire show`
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, flow, task } from '../src/index.js';

const failedOnce = new Set<string>();

/** The pages to resize: known only at run time. */
export const listPages = task('listPages', {
  provides: 'page',
  apply: () => ['p1.png', 'p2.png', 'p3.png', 'p4.png', 'p5.png'],
});

/** Resizes one page; page 2 fails its first attempt (retried alone). */
export const resize = task('resize', {
  requires: ['page'],
  provides: 'image',
  retry: { limit: 2, initialDelayMs: 10 },
  apply: ({ page }: { page: string }) => {
    if (page === 'p2.png' && !failedOnce.has(page)) {
      failedOnce.add(page);
      throw new Error(`${page}: the resizer timed out`);
    }
    return `small-${page}`;
  },
});

/** The album's cover, made apart. */
export const cover = task('cover', { provides: 'image', apply: () => 'cover.png' });

/** Binds the album from every image it collects. */
export const album = task('album', {
  requires: ['images'],
  apply: ({ images }: { images: string[] }) => `album of ${images.length}: ${images.join(', ')}`,
});

const pages = resize.s({}, { each: 'page', concurrency: 3 });
const bind = album.s({}, { collect: 'images' });

/** listPages -> resize[i] (one per page) -> album, and cover -> album. */
const book = flow('book')
  .link(listPages.s(), pages)
  .link(cover.s(), bind, { map: { images: 'image' } })
  .link(pages, bind, { map: { images: 'image' } });

export default book;

/** Runs the book flow embedded, in memory. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    const run = await tw.start(book);
    const done = await run.wait();
    console.log(`run ${done.status}`);
    for (const child of await run.activations('resize')) console.log(`  resize[${child.seq}] ${child.status} attempts ${child.attempt} ${JSON.stringify(child.result)}`);
    console.log(`  album: ${String(done.nodes['album']?.result)}`);
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
