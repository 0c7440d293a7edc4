import cliProgress from "cli-progress";

/** What an ingest has done so far: documents ended (indexed, unchanged, failed or refused) of those found, and chunks indexed. */
export interface ProgressCounts {
  done: number;
  total: number;
  chunks: number;
}

export interface ProgressStats extends ProgressCounts {
  documentsPerSecond: number;
  chunksPerSecond: number;
  /** Seconds left at the rate so far; undefined until a document has ended. */
  etaSeconds: number | undefined;
}

/**
 * Rates since the start and the ETA they imply. Clamps what it is given (done
 * within 0..total, no negative time), so a late event or a clock step never
 * shows more done than found, a negative rate or a negative ETA.
 */
export function progressStats(counts: ProgressCounts, elapsedMs: number): ProgressStats {
  const total = Math.max(0, counts.total);
  const done = Math.min(Math.max(0, counts.done), total);
  const chunks = Math.max(0, counts.chunks);
  // Under a millisecond is no time to measure a rate over (and a denormal divisor makes it infinite).
  const seconds = elapsedMs >= 1 ? elapsedMs / 1000 : 0;
  const documentsPerSecond = seconds > 0 ? done / seconds : 0;
  const chunksPerSecond = seconds > 0 ? chunks / seconds : 0;
  const etaSeconds = done === total ? 0 : documentsPerSecond > 0 ? (total - done) / documentsPerSecond : undefined;
  return { done, total, chunks, documentsPerSecond, chunksPerSecond, etaSeconds };
}

export const formatCount = (n: number) => Math.round(n).toLocaleString("en-US");

/** Decimals under 10 (two under 0.1), so a slow ingest does not read as 0 per second. */
export const formatRate = (perSecond: number) => (perSecond === 0 ? "0" : perSecond < 0.1 ? perSecond.toFixed(2) : perSecond < 10 ? perSecond.toFixed(1) : formatCount(perSecond));

export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** The line logs get instead of a bar: `ingest: 120/200 documents, 6,512 chunks, 30 docs/s, 1,628 chunks/s, ETA 3 s`. */
export function formatProgressLine(stats: ProgressStats): string {
  return `ingest: ${stats.done}/${stats.total} documents, ${formatCount(stats.chunks)} chunks, ${formatRate(stats.documentsPerSecond)} docs/s, ${formatRate(stats.chunksPerSecond)} chunks/s, ETA ${formatEta(stats.etaSeconds)}`;
}

/** The bar's own fields ({value}/{total} are the documents; not {eta}, which cli-progress fills with its own estimate). */
export function barPayload(stats: ProgressStats): { chunks: string; documentRate: string; chunkRate: string; etaText: string } {
  return { chunks: formatCount(stats.chunks), documentRate: formatRate(stats.documentsPerSecond), chunkRate: formatRate(stats.chunksPerSecond), etaText: formatEta(stats.etaSeconds) };
}

/** Where an ingest shows its progress: moved by job events, stopped once with the final counts. */
export interface ProgressDisplay {
  update(counts: Omit<ProgressCounts, "total">): void;
  /** Every file was submitted (or refused): from now on only the workers move the counts. */
  queued(documents: number): void;
  finish(counts: Omit<ProgressCounts, "total">): void;
}

interface DisplayOptions {
  /** Documents found: the bar's 100 %. */
  total: number;
  /** When rates start counting (ms, on the `now` clock). */
  startedAt: number;
  now?: () => number;
}

/**
 * For logs (CI, pipes): a plain line at the first event, then at most one per
 * interval, and one at the end. Written only when an event moves the counts,
 * so a quiet queue writes nothing (a timer would only repeat the same line).
 */
export function createPlainProgress(options: DisplayOptions & { write: (line: string) => void; intervalMs?: number }): ProgressDisplay {
  const { total, startedAt, write, now = Date.now, intervalMs = 5_000 } = options;
  let lastWrittenAt: number | undefined;
  const line = (counts: Omit<ProgressCounts, "total">) => formatProgressLine(progressStats({ ...counts, total }, now() - startedAt));
  return {
    update: (counts) => {
      if (lastWrittenAt !== undefined && now() - lastWrittenAt < intervalMs) return;
      lastWrittenAt = now();
      write(line(counts));
    },
    queued: (documents) => write(`ingest: ${formatCount(documents)} documents queued, waiting for the workers`),
    finish: (counts) => write(line(counts)),
  };
}

/** For a terminal: a cli-progress bar on stderr, redrawn by events and by its own clock for the elapsed time. */
export function createProgressBar(options: DisplayOptions & { stream?: NodeJS.WritableStream }): ProgressDisplay {
  const { total, startedAt, now = Date.now } = options;
  const bar = new cliProgress.SingleBar(
    {
      format: "ingest [{bar}] {value}/{total} documents | {chunks} chunks | {documentRate} docs/s, {chunkRate} chunks/s | ETA {etaText}",
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      stream: options.stream ?? process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = (counts: Omit<ProgressCounts, "total">) => {
    const stats = progressStats({ ...counts, total }, now() - startedAt);
    return { value: stats.done, fields: barPayload(stats) };
  };
  const first = payload({ done: 0, chunks: 0 });
  bar.start(total, first.value, first.fields);
  return {
    update: (counts) => {
      const { value, fields } = payload(counts);
      bar.update(value, fields);
    },
    queued: () => undefined,
    finish: (counts) => {
      const { value, fields } = payload(counts);
      bar.update(value, fields);
      bar.stop();
    },
  };
}

/** The bar on a terminal, plain lines otherwise (CI, pipes), both on stderr so stdout keeps only the report. */
export function createProgressDisplay(options: DisplayOptions & { tty: boolean }): ProgressDisplay {
  return options.tty ? createProgressBar(options) : createPlainProgress({ ...options, write: (line) => process.stderr.write(`${line}\n`) });
}
