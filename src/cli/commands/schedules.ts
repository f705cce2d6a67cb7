/**
 * `taskwire schedules`: the cron schedules of a store (as `tw.schedules()`),
 * and `schedules add | pause | resume | rm` to change them. The ticks are
 * fired by the processes that coordinate the store (`taskwire serve`, the
 * distributed coordinators), not by these commands.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import type { ScheduleInfo, ScheduleOptions } from '../../client/schedules.js';
import { CATCH_UPS, OVERLAPS, type CatchUp, type Overlap } from '../../model/schedule-plan.js';
import { ConfigError } from '../../errors.js';
import { loadFlow } from '../load-flow.js';
import { collect, parseInputs, parseInteger } from '../options.js';
import { out, printJson, table, time } from '../print.js';
import { clientOptions, withClient, type ClientFlags } from '../session.js';

/** Flags of `taskwire schedules add`. */
interface AddFlags extends ClientFlags {
  input?: string[];
  inputs?: string;
  timezone?: string;
  overlap?: string;
  catchUp?: string;
  catchUpLimit?: string;
  since?: string;
  paused?: boolean;
}

/** The lines of `taskwire schedules`: one per schedule. */
export function scheduleLines(schedules: readonly ScheduleInfo[]): string[] {
  const rows = schedules.map((s) => [
    s.name,
    s.cron,
    s.timezone,
    s.flow.name,
    s.paused ? 'paused' : 'active',
    s.paused || s.nextFireAt === null ? '-' : time(s.nextFireAt),
    s.lastRunId ?? '-',
    String(s.skipped),
    `${s.overlap}/${s.catchUp}`,
    s.lastError ?? '',
  ]);
  return table([['SCHEDULE', 'CRON', 'TIMEZONE', 'FLOW', 'STATE', 'NEXT TICK', 'LAST RUN', 'SKIPPED', 'OVERLAP/CATCH-UP', 'LAST ERROR'], ...rows]);
}

/** One of `allowed`, or a ConfigError naming the flag. */
function oneOf<T extends string>(text: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (text === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(text)) throw new ConfigError(`${flag} expected one of ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

/** The schedule options `flags` give. */
function addOptions(flags: AddFlags): ScheduleOptions {
  const overlap = oneOf<Overlap>(flags.overlap, OVERLAPS, '--overlap');
  const catchUp = oneOf<CatchUp>(flags.catchUp, CATCH_UPS, '--catch-up');
  const since = flags.since === undefined ? undefined : Date.parse(flags.since);
  if (since !== undefined && Number.isNaN(since)) throw new ConfigError(`--since expected an ISO 8601 time such as 2026-01-01T00:00:00Z, got ${JSON.stringify(flags.since)}`);
  return {
    ...(flags.timezone === undefined ? {} : { timezone: flags.timezone }),
    ...(overlap === undefined ? {} : { overlap }),
    ...(catchUp === undefined ? {} : { catchUp }),
    ...(flags.catchUpLimit === undefined ? {} : { catchUpLimit: parseInteger(flags.catchUpLimit, '--catch-up-limit', 1, 1000) }),
    ...(since === undefined ? {} : { since }),
    ...(flags.paused === true ? { paused: true } : {}),
  };
}

/** Prints a schedule after a change. */
function printSchedule(info: ScheduleInfo, flags: ClientFlags, what: string): void {
  if (flags.json === true) return printJson(info);
  const next = info.paused ? 'paused' : info.nextFireAt === null ? 'no further tick' : `next tick ${time(info.nextFireAt)}`;
  out(`schedule ${info.name} ${what}: ${info.cron} (${info.timezone}), ${next}`);
}

/** Registers `schedules` and its subcommands. */
export function schedulesCommand(program: Command): void {
  const schedules = program.command('schedules').description('list the cron schedules (tw.schedule): next tick, last run, skipped ticks; add, pause, resume or remove one');
  clientOptions(schedules.command('list', { isDefault: true }).description('list the schedules (the default)')).action(async (flags: ClientFlags) => {
    const listed = await withClient(flags, (client) => client.schedules());
    if (flags.json === true) return printJson(listed);
    if (listed.length === 0) return out('no schedules');
    for (const line of scheduleLines(listed)) out(line);
  });

  clientOptions(
    schedules
      .command('add')
      .description('add (or update) a schedule: each tick of <cron> starts a run of the flow file, id <name>:<tick time>; fired by the processes that coordinate the store (taskwire serve, the coordinators)')
      .argument('<name>', 'the schedule name')
      .argument('<cron>', 'cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first; quote it')
      .argument('<flow-module>', 'a .ts or .js module exporting a flow (as for taskwire run)'),
  )
    .option('-i, --input <key=value>', 'a flow input (repeatable; JSON values are parsed)', collect)
    .option('--inputs <json>', 'flow inputs as a JSON object')
    .option('--timezone <iana>', 'time zone the expression is read in (default UTC)')
    .option('--overlap <policy>', `a tick while the previous run is live: ${OVERLAPS.join(' or ')} (default skip)`)
    .option('--catch-up <policy>', `ticks missed while nothing fired them: ${CATCH_UPS.join(', ')} (default skip)`)
    .option('--catch-up-limit <n>', 'at most this many ticks fired at once (default 10)')
    .option('--since <iso>', 'first tick at or after this time (with --catch-up all, a past time backfills)')
    .option('--paused', 'add it paused')
    .action(async (name: string, cron: string, file: string, flags: AddFlags) => {
      const loaded = await loadFlow(file);
      const inputs = { ...loaded.inputs, ...parseInputs(flags.input, flags.inputs) };
      const options = addOptions(flags);
      const info = await withClient(flags, async (client) => {
        client.register(...loaded.tasks);
        return (await client.schedule(name, cron, loaded.flow, inputs, options)).info();
      });
      printSchedule(info, flags, 'saved');
    });

  for (const [verb, description] of [
    ['pause', 'pause a schedule: no tick fires until it is resumed'],
    ['resume', 'resume a schedule from its next tick after now (ticks while paused are not caught up)'],
    ['rm', 'remove a schedule (its runs stay)'],
  ] as const) {
    clientOptions(schedules.command(verb).description(description).argument('<name>', 'the schedule name')).action(async (name: string, flags: ClientFlags) => {
      await withClient(flags, async (client) => {
        const handle = await client.scheduled(name);
        if (verb === 'rm') {
          await handle.remove();
          return flags.json === true ? printJson({ removed: name }) : out(`schedule ${name} removed`);
        }
        printSchedule(verb === 'pause' ? await handle.pause() : await handle.resume(), flags, verb === 'pause' ? 'paused' : 'resumed');
      });
    });
  }
}
