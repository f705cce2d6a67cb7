/**
 * Conditional links: an article is reviewed, then either published (score 7
 * and up) or sent back to its author, never both; the branch not taken is
 * skipped with its reason. The `notify` join after the branches runs in either
 * case: the branch links have depth `node`, so a skipped branch does not skip
 * what comes after it, and `notify` takes whichever outcome there is.
 *
 * ```
 * npx tsx examples/conditions.ts                  # embedded, in memory: prints the nodes and the skip reasons
 * taskwire run examples/conditions.ts --input score=4   # the flow (the default export); `taskwire show` gives the skip reasons
 * ```
 */
import { pathToFileURL } from 'node:url';
import { condition, connect, flow, task } from '../src/index.js';

/** Reviews the article: its score is the flow input `score` (0 to 10). */
export const review = task('review', {
  requires: ['score'],
  provides: ['verdict'],
  apply: ({ score }: { score: number }) => ({ score, notes: score >= 7 ? 'clear and short' : 'needs sources' }),
});

/** Publishes the article. */
export const publish = task('publish', { provides: ['published'], apply: () => 'https://example.org/articles/42' });

/** Sends the article back with the reviewer's notes. */
export const sendBack = task('send-back', {
  requires: ['verdict'],
  provides: ['returned'],
  apply: ({ verdict }: { verdict: { notes: string } }) => `returned: ${verdict.notes}`,
});

/** Tells the author what happened, whichever branch ran. */
export const notify = task('notify', {
  optional: ['published', 'returned'],
  apply: ({ published, returned }: { published?: string; returned?: string }) => (published !== undefined ? `published at ${published}` : String(returned)),
});

/** A good enough review: registered by name, evaluated by the coordinator on `review`'s `verdict`. */
export const accepted = condition('accepted', (verdict: { score: number }) => verdict.score >= 7);
/** The opposite. */
export const rejected = condition('rejected', (verdict: { score: number }) => verdict.score < 7);

const reviewed = review.s();
const published = publish.s();
const sentBack = sendBack.s();
const told = notify.s();

const article = flow('article')
  .link(reviewed, published, { when: accepted, on: 'verdict', depth: 'node' })
  .link(reviewed, sentBack, { when: rejected, on: 'verdict', depth: 'node' })
  .link(published, told)
  .link(sentBack, told);

export default article;

/** Runs the flow embedded with `score` as its input. */
export async function main(score = 4): Promise<void> {
  const tw = await connect({ store: 'memory' });
  try {
    const run = await tw.start(article, { score });
    const done = await run.wait();
    console.log(`run ${done.status}`);
    for (const node of Object.values(done.nodes)) console.log(`  ${node.id}: ${node.status} ${JSON.stringify(node.result) ?? ''}`.trimEnd());
    for (const entry of await run.history()) if (entry.type === 'node.skipped') console.log(`  skipped ${entry.node ?? ''}: ${JSON.stringify(entry.detail)}`);
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(Number(process.argv[2] ?? 4));
