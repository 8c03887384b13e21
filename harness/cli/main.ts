#!/usr/bin/env node
// The hvdiff command line.

import { Command, CommanderError } from "commander";
import { CASE_SCHEMA } from "../../src/case/schema.js";
import { REPORT_SCHEMA } from "../report/schema.js";
import { TOOL_VERSION } from "../package.js";
import { execCommand, UsageError } from "./exec.js";
import { fuzzCommand, type FuzzOptions } from "./fuzz.js";
import { triageCommand, type TriageOptions } from "./triage.js";
import { minimizeCommand, replayCommand } from "./replay.js";
import { mergeCommand } from "./merge.js";
import { abiCommand } from "./abi.js";
import { knobsCommand } from "./knobs.js";

const VERSION = TOOL_VERSION;

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

function write(s: string): void {
  process.stdout.write(s + "\n");
}

// A closed pipe (`hvdiff exec --batch x | head`) ends the program quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0);
  throw e;
});

async function main(argv: string[]): Promise<number> {
  const program = new Command();
  program
    .name("hvdiff")
    .description("Differential testing of hypervisor guest-ABI policies on an x86-64 emulator")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  let status = 0;
  program
    .command("exec")
    .description("run cases (the case format of cases.md) and print one result per case")
    .argument("[case]", "a case file (JSON)")
    .option("--batch <file>", "a JSON-lines file of cases, or - for standard input")
    .addHelpText(
      "after",
      "\nExit status: 0 when every case ran (whatever its exit kind), 1 when any input was not a\n" +
        "valid case (that line gets {\"id\":..,\"error\":..} and the rest still run), 2 for a usage error.",
    )
    .action(async (file: string | undefined, opts: { batch?: string }) => {
      status = await execCommand(file, opts, write);
    });

  program
    .command("fuzz")
    .description("generate cases, run each under two configurations, report every divergence and crash")
    .option("--pair <A,B>", "two configurations: preset names or .json files (repeatable; default: every preset pair)", collect)
    .option("--seed <seed>", "the run's seed; case i has seed <seed>/<i> (default: hvdiff)")
    .option("--time <duration>", "stop after this long: 30s, 10m, 2h (default: 20s, or until --cases)")
    .option("--cases <n>", "cases per pair")
    .option("--jobs <n>", "worker threads (default: all cores)")
    .option("--out <dir>", "where reports go (default: reports)")
    .option("--ci", "time-boxed CI run: exit 1 when a finding not in --suppress appears")
    .option("--suppress <file>", "known signatures that do not fail --ci ({\"suppress\": [{signature, reason}]})")
    .option("--junit <file>", "also write a JUnit XML summary")
    .option("--shard <I/N>", "run the I-th of N deterministic slices of the seed space")
    .option("--resume", "continue the run whose state is in --out")
    .option("--generator <name>", "the program generator (default: ia32e)")
    .option("--corpus <dir>", "replay the inputs kept in DIR first, and keep there every case that reaches new signal")
    .option("--no-progress", "no progress bar or progress lines")
    .addHelpText(
      "after",
      "\nWith no options: every preset pair for 20 seconds, reports in reports/.\n" +
        "Exit status: 0 when the run completed (with --ci: and found nothing new), 1 for --ci findings, 2 for a usage error.",
    )
    .action(async (opts: FuzzOptions) => {
      status = await fuzzCommand(opts, { out: write, err: (s) => process.stderr.write(s + "\n"), tty: process.stderr.isTTY === true });
    });

  program
    .command("triage")
    .description("group the reports of runs by signature, most frequent first; --html also writes one static page")
    .argument("<dir...>", "report directories of runs or shards (or report files); one signature's reports are merged")
    .option("--html <file>", "also write a self-contained HTML page")
    .addHelpText(
      "after",
      "\nExit status: 0 when every report was read, 1 when a report file was malformed (named on\n" +
        "standard error and skipped), 2 for a usage error.",
    )
    .action((dirs: string[], opts: TriageOptions) => {
      status = triageCommand(dirs, opts, { out: write, err: (s) => process.stderr.write(s + "\n") });
    });

  program
    .command("replay")
    .description("run a report's minimized case again under its two configurations")
    .argument("<report>", "a report file")
    .option("--original", "run the original case instead")
    .addHelpText("after", "\nExit status: 0 when the report's signature reproduces, 1 when it does not, 2 for a bad report or usage.")
    .action((file: string, opts: { original?: boolean }) => {
      status = replayCommand(file, opts, write);
    });

  program
    .command("minimize")
    .description("minimize a report's original case again and rewrite its minimized part")
    .argument("<report>", "a report file")
    .option("--out <file>", "write the result here instead of over the report")
    .action((file: string, opts: { out?: string }) => {
      status = minimizeCommand(file, opts, write);
    });

  program
    .command("merge")
    .description("combine the reports of several runs or shards by signature")
    .argument("<dirs...>", "report directories")
    .option("--out <dir>", "where the merged reports go")
    .action((dirs: string[], opts: { out?: string }) => {
      status = mergeCommand(dirs, opts, write);
    });

  program
    .command("knobs")
    .description("list every preset and knob, with what it models")
    .option("--json", "as JSON")
    .action((opts: { json?: boolean }) => {
      status = knobsCommand(opts, write);
    });

  program
    .command("abi")
    .description("the Xen guest-ABI struct layouts the model uses, native (x86_64) and compat (x86_32)")
    .option("--json", "as JSON: {abi: {struct: {size, fields: {field: {offset, size}}}}}")
    .action((opts: { json?: boolean }) => {
      status = abiCommand(opts, write);
    });

  program
    .command("schema")
    .description("print a JSON Schema of hvdiff's formats")
    .argument("<name>", "case or report")
    .action((name: string) => {
      if (name === "case") write(JSON.stringify(CASE_SCHEMA, null, 2));
      else if (name === "report") write(JSON.stringify(REPORT_SCHEMA, null, 2));
      else throw new UsageError(`unknown schema '${name}' (known: case, report)`);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with code 0; real usage errors were already printed.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`hvdiff: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return status;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`hvdiff: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 3;
  },
);
