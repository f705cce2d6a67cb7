/**
 * `taskwire validate <file>`: checks a flow file without running it.
 *
 * @packageDocumentation
 */
import type { Command } from 'commander';
import type { JsonObject } from '../../codec/json.js';
import { encodeValue } from '../../codec/value.js';
import type { ValidationProblem } from '../../errors.js';
import { findProblems } from '../../model/validate.js';
import { loadFlow } from '../load-flow.js';
import { collect, jsonOption, parseInputs } from '../options.js';
import { out, printJson } from '../print.js';

interface ValidateFlags {
  input?: string[];
  inputs?: string;
  json?: boolean;
}

/** Registers `validate`. */
export function validateCommand(program: Command): void {
  program
    .command('validate')
    .description('check a flow file: cycles, required inputs nothing provides, inputs provided twice, duplicate ids, unknown tasks; exit code 1 when invalid')
    .argument('<file>', 'a .ts or .js module exporting a flow')
    .option('-i, --input <key=value>', 'a flow input the run would get (repeatable; JSON values are parsed)', collect)
    .option('--inputs <json>', 'flow inputs as a JSON object')
    .addOption(jsonOption())
    .action(async (file: string, flags: ValidateFlags) => {
      const loaded = await loadFlow(file);
      const definition = loaded.flow.definition();
      const problems: ValidationProblem[] = [];
      let isKnownTask: ((name: string) => boolean) | undefined;
      try {
        const known = new Set(loaded.flow.tasks().map((t) => t.name));
        isKnownTask = (name) => known.has(name);
      } catch (error) {
        // Two tasks sharing a name: a problem of the flow, not of the command.
        problems.push({ kind: 'invalid', nodes: [], message: (error as Error).message });
      }
      const inputs = encodeValue({ ...loaded.inputs, ...parseInputs(flags.input, flags.inputs) }, `the inputs of flow "${definition.name}"`) as JsonObject;
      problems.push(...findProblems(definition, { inputs, isKnownTask }));
      const valid = problems.length === 0;
      process.exitCode = valid ? 0 : 1;
      if (flags.json === true) {
        printJson({ flow: definition.name, valid, nodes: definition.nodes.length, links: definition.links.length, problems });
      } else if (valid) {
        out(`OK: flow "${definition.name}" (${definition.nodes.length} nodes, ${definition.links.length} links)`);
      } else {
        out(`flow "${definition.name}" is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
        for (const problem of problems) out(`  ${problem.message}`);
      }
    });
}
