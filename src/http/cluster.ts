import cluster, { type Worker } from "node:cluster";

/**
 * The control plane on several processes sharing one port (Node's cluster):
 * one event loop answers several hundred hybrid searches a second, so a
 * machine with more cores serves more with more processes. The primary holds
 * no runtime of its own: it starts the processes one after another (the first
 * one bootstraps the registry alone), says when all listen, replaces one that
 * dies, and on SIGTERM or SIGINT sends each SIGTERM and waits for every one
 * to finish its requests (a second signal kills them).
 */
export interface ClusterOptions {
  processes: number;
  /** Called once all processes listen. */
  onReady(url: string): void;
  log(message: string): void;
}

/** What a serving process tells the primary once it listens. */
interface ListeningMessage {
  ragops: "listening";
  url: string;
}

const isListening = (message: unknown): message is ListeningMessage => typeof message === "object" && message !== null && (message as { ragops?: unknown }).ragops === "listening";

/** More deaths than this within RESTART_WINDOW_MS and the primary gives up: something is wrong with every process, not one. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export const isClusterWorker = (): boolean => cluster.isWorker;

/** In a serving process of a cluster: tells the primary this process listens at `url`. */
export function reportListening(url: string): void {
  const message: ListeningMessage = { ragops: "listening", url };
  process.send?.(message);
}

/** Runs the primary until every process has exited; resolves with the exit code the primary should end with. */
export function runClusterPrimary(options: ClusterOptions): Promise<number> {
  const { processes, log } = options;
  const workers = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let ready = false;
  let failed = false;

  return new Promise<number>((resolve) => {
    const finishIfDone = () => {
      if (workers.size === 0) resolve(failed ? 1 : 0);
    };
    const stopAll = () => {
      stopping = true;
      for (const worker of workers) worker.process.kill("SIGTERM");
      finishIfDone();
    };
    const fork = (): Promise<string> =>
      new Promise<string>((listening, notListening) => {
        const worker = cluster.fork();
        workers.add(worker);
        worker.on("message", (message: unknown) => {
          if (isListening(message)) listening(message.url);
        });
        worker.on("exit", (code, signal) => {
          workers.delete(worker);
          notListening(new Error(`control-plane process ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened`));
          if (stopping) {
            // A process that did not finish its shutdown cleanly makes the whole stop a failure.
            if (code !== 0) {
              log(`control-plane process ${worker.process.pid} ended its shutdown with ${signal ?? `code ${code}`}`);
              failed = true;
            }
            return finishIfDone();
          }
          log(`control-plane process ${worker.process.pid} exited (${signal ?? `code ${code}`})`);
          if (!ready) return;
          const now = Date.now();
          restarts.push(now);
          while ((restarts[0] as number) < now - RESTART_WINDOW_MS) restarts.shift();
          if (restarts.length > MAX_RESTARTS) {
            log(`${restarts.length} control-plane processes died within ${RESTART_WINDOW_MS / 1000} s: stopping them all`);
            failed = true;
            stopAll();
            return;
          }
          fork().then(
            () => log(`control-plane process replaced (${workers.size} running)`),
            () => undefined,
          );
        });
      });

    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.on(signal, () => {
        if (stopping) {
          // A second signal while they finish their requests: as a single process does, stop at once.
          log(`${signal} again: killing ${workers.size} control-plane processes`);
          for (const worker of workers) worker.process.kill("SIGKILL");
          process.exit(130);
        }
        log(`${signal}: stopping ${workers.size} control-plane processes`);
        // SIGTERM whatever came: a Ctrl-C in a terminal has already sent SIGINT to every process of the group.
        stopAll();
      });
    }

    void (async () => {
      let url = "";
      try {
        // One after another: the first opens (and may bootstrap) the registry before the others read it.
        for (let i = 0; i < processes; i++) url = await fork();
      } catch (error) {
        log((error as Error).message);
        failed = true;
        stopAll();
        return;
      }
      if (stopping) return;
      ready = true;
      options.onReady(url);
    })();
  });
}
