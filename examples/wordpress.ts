/**
 * WordPress: recipes are fetched and a server is kicked, then WordPress is
 * installed on it. The server fails for good (after one retry), the run halts
 * `failed`, and it is fixed while it is alive: a second server is added and
 * `installWordpress` is relinked to it. The recipes are not fetched again.
 *
 * ```
 * npx tsx examples/wordpress.ts      # embedded, in memory: shows the live rewiring
 * taskwire run examples/wordpress.ts # the flow (the default export): it ends failed, fixable
 * ```
 */
import { pathToFileURL } from 'node:url';
import { connect, flow, task } from '../src/index.js';

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Fetches the Chef recipes the install needs. */
export const fetchChefRecipes = task('fetchChefRecipes', {
  apply: async () => {
    await pause(50);
    return ['apache2', 'mysql', 'php', 'wordpress'];
  },
});

/** Boots the first server; its zone has no capacity, so it always fails. */
export const kickServer = task('kickServer', {
  provides: 'server',
  retry: { limit: 1, initialDelayMs: 100 },
  apply: async (): Promise<string> => {
    await pause(50);
    throw new Error('zone a has no capacity left');
  },
});

/** Boots a server in another zone: the fix, added to the live run. */
export const kickServer2 = task('kickServer2', {
  provides: 'server',
  apply: async () => {
    await pause(50);
    return '10.0.2.15';
  },
});

/** Installs WordPress with the recipes on the server's address. */
export const installWordpress = task('installWordpress', {
  requires: ['recipes', 'address'],
  apply: async ({ recipes, address }: { recipes: string[]; address: string }) => {
    await pause(50);
    return `http://${address}/ (${recipes.join(', ')})`;
  },
});

const install = installWordpress.s();
const wordpress = flow('wordpress');
// The names differ: installWordpress's `recipes` is fetchChefRecipes's result, its `address` the `server` a kick provides.
wordpress.link(fetchChefRecipes.s(), install, { map: { recipes: 'fetchChefRecipes' } });
wordpress.link(kickServer.s(), install, { map: { address: 'server' } });

export default wordpress;

/** Runs the flow embedded, and rewires it once it has failed. */
export async function main(): Promise<void> {
  const tw = await connect({ store: 'memory', actor: 'example@wordpress' });
  try {
    const run = await tw.start(wordpress);
    const failed = await run.wait();
    const kick = failed.nodes['kickServer'];
    console.log(`run ${failed.status}: kickServer ${kick?.status} after ${kick?.attempt} attempts (${kick?.error?.message})`);
    console.log(`installWordpress waits for ${JSON.stringify(failed.nodes['installWordpress']?.waitingFor)}`);

    console.log(`add kickServer2 -> ${JSON.stringify(await run.add(kickServer2.s()))}`);
    console.log(`relink installWordpress from kickServer to kickServer2 -> ${JSON.stringify(await run.relink('installWordpress', 'kickServer', 'kickServer2'))}`);
    const done = await run.wait();
    console.log(`run ${done.status}: ${String(await run.result('installWordpress'))}`);

    for (const entry of await run.history()) {
      if (entry.type === 'change') console.log(`  v${entry.graphVersion} ${entry.actor}: ${JSON.stringify(entry.detail)}`);
      else if (entry.node !== undefined) console.log(`  v${entry.graphVersion} ${entry.type} ${entry.node}${entry.attempt === undefined ? '' : ` #${entry.attempt}`}`);
    }
  } finally {
    await tw.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
