import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";

function runUntilReady(args: string[], ready: RegExp): Promise<{ stop: (signal: NodeJS.Signals) => Promise<{ code: number | null; stderr: string }> }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    env: { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-sig-")), RAGOPS_REDIS_PREFIX: `sig${process.pid}`, PORT: "0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  // Waits for the readiness line however long a busy machine takes; the test's own timeout bounds it.
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (data: Buffer) => {
      stderr += data.toString();
      if (ready.test(stderr)) {
        resolve({
          stop: async (signal) => {
            child.kill(signal);
            return { code: await exited, stderr };
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`exited early with ${code}: ${stderr}`)));
  });
}

describe("graceful shutdown", () => {
  it("stops the worker on SIGTERM with exit status 0", async () => {
    const worker = await runUntilReady(["worker"], /worker running/);
    const { code, stderr } = await worker.stop("SIGTERM");
    expect(code).toBe(0);
    expect(stderr).toMatch(/shutting down the worker/);
  });

  it("stops the control plane on SIGINT with exit status 0", async () => {
    const server = await runUntilReady(["serve"], /control plane on http/);
    const { code, stderr } = await server.stop("SIGINT");
    expect(code).toBe(0);
    expect(stderr).toMatch(/shutting down the control plane/);
  });
});
