/**
 * The peers beside taskwire: their JSON lines read from files (`--peers`) or
 * produced by running their scripts right before and right after taskwire in the
 * same invocation (`--peer-scripts`), the issue's targets checked against them,
 * and the summary table.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fmt, r3, table } from './stats.js';

/** A line of the bench: taskwire's own, or a peer's. */
export type Rec = Record<string, unknown> & { system: string; workload: string; n?: number; seconds?: number; error?: string };

/** When a peer line was measured: from a file, or right before or after taskwire. */
export type PeerPhase = 'file' | 'before' | 'after';

/** A peer script's JSON line (bullmq-bench.mjs and the like). */
export type PeerLine = { system: string; workload: string; phase?: PeerPhase; tasks_per_s?: number; per_hop_ms?: number; seconds?: number; p50_ms?: number; p99_ms?: number };

/** The peer lines in a JSON-lines text (lines of taskwire itself are left out). */
function peerLines(text: string, phase: PeerPhase): PeerLine[] {
  const lines: PeerLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as PeerLine;
      if (typeof parsed.system === 'string' && typeof parsed.workload === 'string' && parsed.system !== 'taskwire' && !parsed.system.startsWith('taskwire-')) lines.push({ ...parsed, phase });
    } catch {
      // not a JSON line
    }
  }
  return lines;
}

/** The peer lines of the files in `--peers f1,f2`. */
export function loadPeers(files: string | undefined): PeerLine[] {
  if (files === undefined) return [];
  return files
    .split(',')
    .filter(Boolean)
    .flatMap((file) => peerLines(readFileSync(file, 'utf8'), 'file'));
}

/**
 * Runs each peer script (`node <script>` in its own folder, its progress on our
 * stderr) and returns its lines tagged with `phase`. A script that fails is
 * reported and skipped: the taskwire figures are worth having without it.
 */
export async function runPeerScripts(scripts: readonly string[], phase: 'before' | 'after', log: (message: string) => void): Promise<PeerLine[]> {
  const lines: PeerLine[] = [];
  for (const script of scripts) {
    const path = resolve(script);
    log(`peer ${basename(path)} (${phase} taskwire)`);
    const child = spawn(process.execPath, [path], { cwd: dirname(path), stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    const code = await new Promise<number | null>((done) => {
      child.once('error', (error) => {
        log(`peer ${path} could not start: ${error.message}`);
        done(null);
      });
      child.once('exit', done);
    });
    if (code !== 0) log(`peer ${path} exited with ${String(code)}; its complete lines are kept`);
    lines.push(...peerLines(out, phase));
  }
  return lines;
}

/** BullMQ's throughput on a workload: the last line of each phase present (file, before, after). */
function bullmq(peers: readonly PeerLine[], workload: string): number[] {
  const figures: number[] = [];
  for (const phase of ['file', 'before', 'after'] as const) {
    const line = peers.filter((p) => p.system === 'bullmq' && p.workload === workload && p.phase === phase && p.tasks_per_s !== undefined).at(-1);
    if (line?.tasks_per_s !== undefined) figures.push(line.tasks_per_s);
  }
  return figures;
}

/** The target of a (mode, workload), checked; a ratio target must hold against every BullMQ figure (before and after). */
function target(rec: Rec, peers: readonly PeerLine[]): string {
  const tps = rec['tasks_per_s'] as number | undefined;
  const hop = rec['per_hop_ms'] as number | undefined;
  const check = (ok: boolean, text: string): string => `${ok ? 'ok' : 'MISS'} (${text})`;
  const mode = rec.system.replace(/^taskwire-/, '');
  if (rec.error !== undefined || tps === undefined) return '';
  // Targets are set for the peers' sizes only.
  const standard: Record<string, number> = { chain: 200, fanout: 1002, throughput: 3000, events: 10_000 };
  if (standard[rec.workload] !== rec.n) return '';
  const peer = bullmq(peers, rec.workload);
  const atLeast = (factor: number, text: string): string => (peer.length === 0 ? `${text} (no peer line)` : check(peer.every((p) => tps >= factor * p), text));
  if (mode === 'memory' && rec.workload === 'chain' && hop !== undefined) return check(hop <= 0.01, '<= 10 us/hop');
  if (mode === 'memory' && rec.workload === 'throughput') return check(tps >= 200_000, '>= 200,000/s');
  if (mode === 'sqlite' && rec.workload === 'throughput') return check(tps >= 50_000, '>= 50,000/s');
  if (mode === 'amqp-pg' && rec.workload === 'chain' && hop !== undefined) return check(hop <= 1, '<= 1 ms/hop');
  if (mode === 'amqp-pg' && rec.workload === 'fanout') return atLeast(1.5, '>= 1.5x BullMQ');
  if (mode === 'amqp-pg' && (rec.workload === 'throughput' || rec.workload === 'events')) return atLeast(1, '>= BullMQ');
  return '';
}

/** The table printed at the end: taskwire's lines with their ratios and targets, then the peers' lines. */
export function summaryTable(records: readonly Rec[], peers: readonly PeerLine[]): string {
  const rows: string[][] = [['system', 'workload', 'n', 'seconds', 'spread%', 'tasks/s', 'per hop ms', 'p50/p99 ms', 'peak RSS MB', 'us/node', 'x BullMQ', 'target']];
  for (const rec of records) {
    if (rec.error !== undefined) {
      rows.push([rec.system, rec.workload, fmt(rec.n, 0), 'ERROR', '', '', '', '', '', '', '', rec.error.slice(0, 60)]);
      continue;
    }
    const tps = rec['tasks_per_s'] as number | undefined;
    const p50 = rec['p50_ms'] as number | undefined;
    rows.push([
      rec.system,
      rec.workload,
      fmt(rec.n, 0),
      fmt(rec.seconds, 4),
      fmt(rec['spread_pct'] as number, 1),
      fmt(tps, 0),
      rec['per_hop_ms'] === undefined ? '' : fmt(rec['per_hop_ms'] as number, 4),
      p50 === undefined ? '' : `${fmt(p50, 1)} / ${fmt(rec['p99_ms'] as number, 1)}`,
      rec['peak_rss_mb'] === undefined ? '' : fmt(rec['peak_rss_mb'] as number, 0),
      rec['us_per_node'] === undefined ? '' : fmt(rec['us_per_node'] as number, 1),
      tps === undefined ? '' : bullmq(peers, rec.workload).map((p) => `${r3(tps / p)}`).join(' / '),
      target(rec, peers),
    ]);
  }
  const peerRows = peers.filter((p) => p.tasks_per_s !== undefined && ['chain', 'fanout', 'throughput', 'events'].includes(p.workload));
  const peerTable =
    peerRows.length === 0
      ? ''
      : `\n\npeers:\n${table([
          ['system', 'when', 'workload', 'seconds', 'tasks/s', 'per hop ms', 'p50/p99 ms'],
          ...peerRows.map((p) => [p.system, p.phase ?? '', p.workload, fmt(p.seconds, 4), fmt(p.tasks_per_s, 0), p.per_hop_ms === undefined ? '' : fmt(p.per_hop_ms, 3), p.p50_ms === undefined ? '' : `${fmt(p.p50_ms, 1)} / ${fmt(p.p99_ms, 1)}`]),
        ])}`;
  return `${table(rows)}${peerTable}`;
}
