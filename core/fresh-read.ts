/**
 * A read of something another process changes (a table's version on disk),
 * shared by concurrent callers without ever answering one of them with a
 * value read before it asked: a caller that arrives while a read is running
 * waits for the next read, which every caller arriving meanwhile shares. So
 * at most one read is waited for beside the one running, however many
 * callers there are (a caller arriving just as a read settles may start its
 * own beside it), and a caller's answer is as fresh as a read of its own.
 */
export function freshRead<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const current = read().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  return () => {
    if (!running) return start();
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}
