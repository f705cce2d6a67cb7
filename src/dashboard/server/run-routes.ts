/**
 * The API of runs: the list (keyset paging, filters, counts), a run with its
 * graph, its graph at a version, its history, a node's activations, the
 * what-if preview and the changes.
 *
 * @packageDocumentation
 */
import type { Hono } from 'hono';
import type { RunChange } from '../../client/run-changes.js';
import { snapshot, type RunSnapshot } from '../../client/snapshot.js';
import type { HistoryEntry } from '../../engine/events.js';
import type { RunState, RunStatus } from '../../engine/state.js';
import { TaskwireError, UnknownRunError } from '../../errors.js';
import type { RunFilter, RunSummary } from '../../store/port.js';
import type { DashboardDeps, DashboardEnv } from './app.js';
import { graphAt, graphView, statesAt, type GraphView } from './graph-view.js';
import { errorBody, statusOf } from './http-errors.js';
import { BadRequestError, decodeCursor, encodeCursor, intParam, listField, objectBody, statusParam } from './query.js';

/** A run as the page shows it: its snapshot and its graph. */
export type RunView = RunSnapshot & { graph: GraphView };

/** A page of the runs list. */
export interface RunsPage {
  /** The runs, newest first. */
  runs: RunSummary[];
  /** The cursor of the next page; absent on the last. */
  next?: string;
  /** The runs matching the filters other than status, by status. */
  counts: Record<RunStatus, number>;
}

const MAX_TIME = Number.MAX_SAFE_INTEGER;

/** The view of a run state. */
export function runView(state: RunState): RunView {
  return { ...snapshot(state), graph: graphView(state) };
}

/** Registers the run routes. */
export function runRoutes(app: Hono<DashboardEnv>, deps: DashboardDeps): void {
  const { client, store } = deps;
  const load = async (id: string): Promise<RunState> => {
    const state = await store.loadRun(id);
    if (state === undefined) throw new UnknownRunError(id);
    return state;
  };

  app.get('/api/runs', async (c) => {
    const q = (name: string) => c.req.query(name);
    const filter: RunFilter = { limit: intParam(q('limit'), 'limit', 1, 500, 50) };
    const status = statusParam(q('status'));
    if (status !== undefined) filter.status = status;
    for (const [param, field] of [['flow', 'flow'], ['idPrefix', 'idPrefix'], ['q', 'errorText']] as const) {
      const value = q(param);
      if (value !== undefined && value !== '') filter[field] = value;
    }
    const from = intParam(q('from'), 'from', 0, MAX_TIME);
    const to = intParam(q('to'), 'to', 0, MAX_TIME);
    if (from !== undefined) filter.createdAfter = from;
    if (to !== undefined) filter.createdBefore = to;
    const cursor = decodeCursor(q('cursor'));
    if (cursor !== undefined) filter.cursor = cursor;
    const limit = filter.limit as number;
    // One more than the page tells whether there is a next one.
    const [runs, counts] = await Promise.all([store.listRuns({ ...filter, limit: limit + 1 }), store.countRuns(filter)]);
    const page: RunsPage = { runs: runs.slice(0, limit), counts };
    const last = page.runs[page.runs.length - 1];
    if (runs.length > limit && last !== undefined) page.next = encodeCursor({ createdAt: last.createdAt, id: last.id });
    return c.json(page);
  });

  app.get('/api/runs/:id', async (c) => c.json(runView(await load(c.req.param('id')))));

  app.get('/api/runs/:id/graph', async (c) => {
    const state = await load(c.req.param('id'));
    const current = graphView(state);
    const version = intParam(c.req.query('version'), 'version', 1, state.graphVersion, state.graphVersion) as number;
    if (version === state.graphVersion) return c.json(current);
    const history: HistoryEntry[] = [];
    // Every entry after the version's first change: read in pages.
    for (let after = 0; ; ) {
      const page = await store.history(state.id, { after, limit: 1000 });
      history.push(...page);
      if (page.length < 1000) break;
      after = (page[page.length - 1] as HistoryEntry).seq;
    }
    const then = graphAt(current, history, version);
    then.states = statesAt(then, history);
    return c.json(then);
  });

  app.get('/api/runs/:id/history', async (c) => {
    const id = c.req.param('id');
    const after = intParam(c.req.query('after'), 'after', 0, MAX_TIME, 0) as number;
    const limit = intParam(c.req.query('limit'), 'limit', 1, 1000, 200) as number;
    const entries = await store.history(id, { after, limit });
    if (entries.length === 0 && after === 0) await load(id);
    const last = entries[entries.length - 1];
    return c.json(entries.length === limit && last !== undefined ? { entries, next: last.seq } : { entries });
  });

  app.get('/api/runs/:id/nodes/:node/activations', async (c) => {
    const after = intParam(c.req.query('after'), 'after', 0, MAX_TIME);
    const limit = intParam(c.req.query('limit'), 'limit', 1, 1000, 200) as number;
    const activations = await client.run(c.req.param('id')).activations(c.req.param('node'), { limit, ...(after === undefined ? {} : { after }) });
    return c.json({ activations });
  });

  app.post('/api/runs/:id/preview', async (c) => {
    const changes = listField(await objectBody(c.req), 'changes') as RunChange[];
    try {
      const state = await client.run(c.req.param('id')).preview(changes);
      return c.json({ ok: true, graph: graphView(state), run: runView(state) });
    } catch (error) {
      // A refused change is the preview's answer; a missing run or a store failure is an error.
      if (!(error instanceof TaskwireError) || statusOf(error) !== 400) throw error;
      return c.json({ ok: false, error: errorBody(error, deps.secrets).error });
    }
  });

  app.post('/api/runs/:id/changes', async (c) => {
    const changes = listField(await objectBody(c.req), 'changes') as RunChange[];
    const report = await client.run(c.req.param('id')).change(changes, { actor: `dashboard:${c.get('user').name}` });
    return c.json({ ok: true, report });
  });

  app.post('/api/notify', async (c) => {
    const body = await objectBody(c.req);
    const { event, payload, runId } = body;
    if (typeof event !== 'string') throw new BadRequestError('"event" must be a string');
    if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload))) throw new BadRequestError('"payload" must be an object');
    if (runId !== undefined && typeof runId !== 'string') throw new BadRequestError('"runId" must be a string');
    const runs = await client.notify(event, (payload ?? {}) as Record<string, unknown>, runId === undefined ? {} : { runs: [runId] });
    return c.json({ runs });
  });
}
