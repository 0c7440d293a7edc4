import cluster, { type Worker } from "node:cluster";
import { AggregatorRegistry, type Registry } from "prom-client";

/**
 * The control plane on several processes sharing one port (Node's cluster):
 * one event loop answers about a thousand hybrid searches a second, so a
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

/** A serving process asking the primary for every process's metrics (GET /metrics), and the answer. */
interface MetricsRequest {
  ragops: "metrics";
  id: number;
}
interface MetricsReply {
  ragops: "metrics-reply";
  id: number;
  text?: string;
  error?: string;
}

const ragopsMessage = <T extends { ragops: string }>(kind: T["ragops"]) => (message: unknown): message is T => typeof message === "object" && message !== null && (message as { ragops?: unknown }).ragops === kind;
const isListening = ragopsMessage<ListeningMessage>("listening");
const isMetricsRequest = ragopsMessage<MetricsRequest>("metrics");
const isMetricsReply = ragopsMessage<MetricsReply>("metrics-reply");

/** More deaths than this within RESTART_WINDOW_MS and the primary gives up: something is wrong with every process, not one. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

export const isClusterWorker = (): boolean => cluster.isWorker;

/** In a serving process of a cluster: tells the primary this process listens at `url`. */
export function reportListening(url: string): void {
  const message: ListeningMessage = { ragops: "listening", url };
  process.send?.(message);
}

/**
 * In a serving process: lets the primary read this registry. A scrape of
 * /metrics reaches whichever process the primary hands the connection to, so
 * it answers with the primary's aggregation of all of them (counters and
 * histograms summed; a gauge as its `aggregator` says), never with one
 * process's share, which would make counters go back and forth between scrapes.
 */
export function shareMetricsWithPrimary(registry: Registry): void {
  new AggregatorRegistry(); // installs this process's answer to the primary's requests
  AggregatorRegistry.setRegistries([registry]);
}

const pendingMetrics = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
let nextMetricsRequest = 0;

/** In a serving process: every serving process's metrics in Prometheus text, from the primary. */
export function clusterMetricsText(): Promise<string> {
  if (nextMetricsRequest === 0) {
    process.on("message", (message: unknown) => {
      if (!isMetricsReply(message)) return;
      const pending = pendingMetrics.get(message.id);
      pendingMetrics.delete(message.id);
      if (message.text !== undefined) pending?.resolve(message.text);
      else pending?.reject(new Error(`the primary could not gather the processes' metrics: ${message.error ?? "no reason given"}`));
    });
  }
  const id = ++nextMetricsRequest;
  return new Promise<string>((resolve, reject) => {
    pendingMetrics.set(id, { resolve, reject });
    const request: MetricsRequest = { ragops: "metrics", id };
    process.send?.(request);
  });
}

/** Runs the primary until every process has exited; resolves with the exit code the primary should end with. */
export function runClusterPrimary(options: ClusterOptions): Promise<number> {
  const { processes, log } = options;
  const workers = new Set<Worker>();
  const restarts: number[] = [];
  let stopping = false;
  let ready = false;
  let failed = false;
  // Gathers the serving processes' registries (prom-client asks each over IPC; a process that does not answer within 5 s fails the scrape).
  const metrics = new AggregatorRegistry();
  const answerMetrics = (worker: Worker, id: number) => {
    metrics.clusterMetrics().then(
      (text) => worker.send({ ragops: "metrics-reply", id, text } satisfies MetricsReply),
      (error: unknown) => worker.send({ ragops: "metrics-reply", id, error: (error as Error).message } satisfies MetricsReply),
    );
  };

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
          else if (isMetricsRequest(message)) answerMetrics(worker, message.id);
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
