#!/usr/bin/env node
import { Command, Option } from "commander";
import { ConfigError } from "../../config/load.js";
import { errorMessage, isRagopsError } from "../../core/errors.js";
import { addAuditCommand } from "./audit-command.js";
import { addEvalCommand } from "./eval-command.js";
import { addFailuresCommand } from "./failures-command.js";
import { addGoldenCommand } from "./golden-command.js";
import { addIndexCommands } from "./index-commands.js";
import { addIngestCommand } from "./ingest-command.js";
import { addRefreshCommand } from "./refresh-command.js";
import { addReconcileCommand } from "./reconcile-command.js";
import { addRegistryCommand } from "./registry-command.js";
import { addSearchCommand } from "./search-command.js";
import { addServeCommand } from "./serve-command.js";
import { addTokenCommand } from "./token-command.js";
import { addWorkerCommand } from "./worker-command.js";

const EXAMPLES = `
Environment: RAGOPS_DATA_DIR, REDIS_URL, PORT, RAGOPS_MAX_UPLOAD_BYTES, RAGOPS_CHUNK_SIZE_TOKENS, ... (see README).
Examples:
  ragops serve --port 8080
  ragops worker --concurrency 4
  ragops ingest ./docs --tag handbook
  ragops refresh --source ./docs --dry-run
  ragops index create --chunk-size 768 --wait && ragops index swap v2 --expected v1 --force --reason "smaller chunks"
  ragops search "how do I reset the dock" -k 5
  ragops eval v2 --golden northwind --wait --trec-out run.txt
  ragops registry rebuild
  ragops reconcile --dry-run && ragops reconcile --repair
  ragops token create --name search-app --roles reader
  ragops failures && ragops failures retry --all`;

/** `ragops` and its global options; each command group adds itself, in the order `--help` lists them. */
export function buildProgram(): Command {
  const program = new Command()
    .name("ragops")
    .description("RAG ingestion and index operations: upload documents, chunk and embed them, search the index.")
    .option("-c, --config <file>", "JSON config file (also $RAGOPS_CONFIG)")
    .option("--data-dir <dir>", "data directory for the object store and LanceDB (default .ragops-data, or $RAGOPS_DATA_DIR)")
    .option("--redis-url <url>", "Redis URL (default redis://127.0.0.1:6379, or $REDIS_URL)")
    .addOption(new Option("--log-level <level>", "log level (default info, or $RAGOPS_LOG_LEVEL)").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
    .showHelpAfterError()
    .addHelpText("after", EXAMPLES);

  addServeCommand(program);
  addWorkerCommand(program);
  addIngestCommand(program);
  addRefreshCommand(program);
  addSearchCommand(program);
  addIndexCommands(program);
  addAuditCommand(program);
  addGoldenCommand(program);
  addEvalCommand(program);
  addRegistryCommand(program);
  addReconcileCommand(program);
  addTokenCommand(program);
  addFailuresCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ragops: ${error.message}`);
      process.exit(2);
    }
    console.error(`ragops: ${isRagopsError(error) ? error.message : errorMessage(error)}`);
    process.exit(1);
  }
}

await main(process.argv);
