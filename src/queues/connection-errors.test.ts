import { EventEmitter } from "node:events";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { logConnectionErrors } from "./connection-errors.js";

function capture() {
  const lines: Array<{ msg: string; reason: string }> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line) as { msg: string; reason: string }) });
  return { logger, lines };
}

describe("logConnectionErrors", () => {
  it("logs the first error of an outage, then one line per 10 s counting the rest", () => {
    const { logger, lines } = capture();
    const worker = new EventEmitter();
    let clock = 0;
    logConnectionErrors(worker, logger, "ingest", () => clock);
    for (let i = 0; i < 25; i += 1) {
      worker.emit("error", new Error(`connect ECONNREFUSED 127.0.0.1:6379 #${i}`));
      clock += 1_000;
    }
    expect(lines.map((l) => l.msg)).toEqual([
      "ingest worker: connect ECONNREFUSED 127.0.0.1:6379 #0; it keeps retrying",
      "ingest worker: connect ECONNREFUSED 127.0.0.1:6379 #10 (9 more since the last report); it keeps retrying",
      "ingest worker: connect ECONNREFUSED 127.0.0.1:6379 #20 (9 more since the last report); it keeps retrying",
    ]);
  });
});
