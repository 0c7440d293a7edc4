import { setTimeout as sleep } from "node:timers/promises";
import { grpc } from "google-gax";
import { EmulatorError } from "./emulator-error.js";

/**
 * Faults a test switches on: the next N calls (of one method, or of any) fail
 * with a status, or are held for a while before they are served. Faults are
 * used up in the order they were added.
 */
export type FaultCode = "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "INTERNAL" | "ABORTED" | "PERMISSION_DENIED";

export interface Faults {
  /** The next `count` calls (of `method`, when given) fail with `code`. */
  failNext(count: number, code: FaultCode, options?: { method?: string; message?: string }): void;
  /** The next `count` calls (of `method`, when given) wait `ms` before they are served (or fail, when a failure is also due). */
  delayNext(count: number, ms: number, options?: { method?: string }): void;
  /** Holds every call (of `method`, when given) from now until the hold is released: for tests that act while calls are in flight. */
  hold(options?: { method?: string }): Hold;
  /** Faults still to be used up. */
  pending(): number;
  clear(): void;
  /** Applies the faults due to a call of `method`: resolves when it may be served, rejects when it must fail. A hold comes first, then a delay, then a failure. */
  apply(method: string): Promise<void>;
}

export interface Hold {
  /** Calls held now. */
  held(): number;
  /** Resolves once `count` calls are held at the same time. */
  until(count: number): Promise<void>;
  /** Lets the held calls through, and every later one. */
  release(): void;
}

// What the real services say in these cases, near enough for logs and error messages to read alike.
const MESSAGES: Record<FaultCode, string> = {
  RESOURCE_EXHAUSTED: "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model (emulated fault)",
  UNAVAILABLE: "The service is currently unavailable. (emulated fault)",
  DEADLINE_EXCEEDED: "Deadline exceeded (emulated fault)",
  INTERNAL: "Internal error encountered. (emulated fault)",
  ABORTED: "The operation was aborted. (emulated fault)",
  PERMISSION_DENIED: "Permission 'aiplatform.endpoints.predict' denied (emulated fault)",
};

interface Fault {
  left: number;
  method: string | undefined;
  failure?: { code: FaultCode; message: string };
  delayMs?: number;
}

interface ActiveHold {
  method: string | undefined;
  held: number;
  released: Promise<void>;
  release(): void;
  changed(): void;
}

export function createFaults(): Faults {
  let faults: Fault[] = [];
  let holds: ActiveHold[] = [];
  const take = (method: string, kind: "failure" | "delayMs"): Fault | undefined => {
    const fault = faults.find((f) => f[kind] !== undefined && f.left > 0 && (f.method === undefined || f.method === method));
    if (fault) fault.left -= 1;
    faults = faults.filter((f) => f.left > 0);
    return fault;
  };
  return {
    failNext: (count, code, options = {}) => void faults.push({ left: count, method: options.method, failure: { code, message: options.message ?? MESSAGES[code] } }),
    delayNext: (count, ms, options = {}) => void faults.push({ left: count, method: options.method, delayMs: ms }),
    hold: (options = {}) => {
      let resolveRelease = () => {};
      const released = new Promise<void>((resolve) => (resolveRelease = resolve));
      const watchers = new Set<() => void>();
      const active: ActiveHold = {
        method: options.method,
        held: 0,
        released,
        release: () => {
          holds = holds.filter((h) => h !== active);
          resolveRelease();
        },
        changed: () => watchers.forEach((watch) => watch()),
      };
      holds.push(active);
      return {
        held: () => active.held,
        until: (count) =>
          new Promise<void>((resolve) => {
            const watch = () => {
              if (active.held < count) return;
              watchers.delete(watch);
              resolve();
            };
            watchers.add(watch);
            watch();
          }),
        release: active.release,
      };
    },
    pending: () => faults.reduce((sum, f) => sum + f.left, 0),
    clear: () => {
      faults = [];
      for (const hold of [...holds]) hold.release();
    },
    apply: async (method) => {
      const hold = holds.find((h) => h.method === undefined || h.method === method);
      if (hold) {
        hold.held += 1;
        hold.changed();
        await hold.released;
        hold.held -= 1;
      }
      const delay = take(method, "delayMs");
      const failure = take(method, "failure")?.failure;
      if (delay?.delayMs) await sleep(delay.delayMs);
      if (failure) throw new EmulatorError(grpc.status[failure.code], failure.message);
    },
  };
}
