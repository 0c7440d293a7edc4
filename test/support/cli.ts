import { spawn } from "node:child_process";

export interface CliRun {
  status: number | null;
  out: string;
  err: string;
}

/**
 * `ragops <args>` from source in a child process with this environment.
 * Asynchronous on purpose: a worker the test runs in its own process must
 * keep its event loop turning while the CLI waits for its jobs.
 */
export function cliRunner(env: NodeJS.ProcessEnv): (...args: string[]) => Promise<CliRun> {
  return (...args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { env });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("exit", (status) => resolve({ status, out, err }));
    });
}
