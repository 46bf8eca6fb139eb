#!/usr/bin/env node
/** The `agent-vault` command. Each subcommand lives in its own module. */
import { runCli } from "./commands.js";

runCli(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`agent-vault: ${(err as Error).message}`);
    process.exitCode = 1;
  },
);
