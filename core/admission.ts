/**
 * Back-pressure for one kind of request in one process: at most
 * `maxInFlight` calls run at once, at most `maxQueued` more wait in line
 * (first come, first served), and a call beyond both is refused at once, so
 * a burst costs a bounded amount of memory instead of piling up.
 */
export interface AdmissionLimits {
  /** Calls running at once. */
  maxInFlight: number;
  /** Calls waiting for a place; 0: none wait. */
  maxQueued: number;
}

export interface Admission {
  /**
   * Runs `work` in a free place, after waiting in line if need be. Rejects
   * with the `refuse` error when the line is full, and with the signal's
   * reason when it aborts while waiting (the caller left: its place in line
   * goes to the next one).
   */
  run<T>(work: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T>;
  readonly inFlight: number;
  readonly queued: number;
}

interface Waiter {
  admit(): void;
}

export function createAdmission(limits: AdmissionLimits, refuse: () => Error): Admission {
  let inFlight = 0;
  const line: Waiter[] = [];

  // A place that frees up passes straight to the first in line, so a newcomer never overtakes it.
  const release = () => {
    const next = line.shift();
    if (next) next.admit();
    else inFlight -= 1;
  };

  const enter = (signal: AbortSignal | undefined): Promise<void> => {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (inFlight < limits.maxInFlight) {
      inFlight += 1;
      return Promise.resolve();
    }
    if (line.length >= limits.maxQueued) return Promise.reject(refuse());
    return new Promise((resolve, reject) => {
      const leave = () => {
        const at = line.indexOf(waiter);
        if (at >= 0) line.splice(at, 1);
        reject(signal?.reason as Error);
      };
      const waiter: Waiter = {
        admit: () => {
          signal?.removeEventListener("abort", leave);
          resolve();
        },
      };
      signal?.addEventListener("abort", leave, { once: true });
      line.push(waiter);
    });
  };

  return {
    run: async (work, options) => {
      await enter(options?.signal);
      try {
        return await work();
      } finally {
        release();
      }
    },
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return line.length;
    },
  };
}
