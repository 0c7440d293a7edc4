import { spawn, type ChildProcess } from "node:child_process";

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

export interface RunningCli {
  child: ChildProcess;
  /** Resolves once stderr so far matches, as the child writes it, with the match. */
  stderrMatches(pattern: RegExp): Promise<RegExpExecArray>;
  exited: Promise<CliRun>;
}

/** `ragops <args>` started, for a test that acts on it while it runs (a signal once it says something). */
export function startCli(env: NodeJS.ProcessEnv, ...args: string[]): RunningCli {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { env });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<CliRun>((resolve) => child.on("exit", (status) => resolve({ status, out, err })));
  const stderrMatches = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(err);
        if (!match) return;
        child.stderr.off("data", check);
        resolve(match);
      };
      child.stderr.on("data", check);
      child.once("exit", () => reject(new Error(`ragops exited before stderr matched ${pattern}:\n${err}`)));
      check();
    });
  return { child, stderrMatches, exited };
}
