#!/usr/bin/env node
// The hvdiff command line.

import { Command, CommanderError } from "commander";
import { CASE_SCHEMA } from "../../src/case/schema.js";
import { execCommand, UsageError } from "./exec.js";

const VERSION = "0.1.0";

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
    .command("schema")
    .description("print a JSON Schema of hvdiff's formats")
    .argument("<name>", "case")
    .action((name: string) => {
      if (name !== "case") throw new UsageError(`unknown schema '${name}' (known: case)`);
      write(JSON.stringify(CASE_SCHEMA, null, 2));
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
