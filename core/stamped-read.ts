/**
 * A slow read (a listing on disk) held in memory while a cheap stamp has not
 * moved, and for at most `recheckMs`: the stamp is a token every writer
 * replaces after it commits (a Redis GET against a directory listing per
 * call). serving.ts holds the alias the same way.
 *
 * Why a held value is current enough: it is held with the stamp read before
 * the read began. A caller that reads the same stamp knows no write was
 * announced between that stamp and its own ask, so the held value reflects
 * every write announced before it asked. A write whose announcement was lost
 * (its process killed in between, Redis unreachable) is seen at the recheck;
 * while the stamp cannot be read, every call reads.
 */
export interface StampedReadOptions<T> {
  /** The writers' token; rejects when it cannot be read. */
  stamp: () => Promise<string>;
  read: () => Promise<T>;
  /** Longest a value is held whatever the stamp says, ms; 0 reads every time. */
  recheckMs: number;
  now?: () => number;
}

export function stampedRead<T>(options: StampedReadOptions<T>): () => Promise<T> {
  const now = options.now ?? Date.now;
  let held: { stamp: string; value: T; readAt: number } | undefined;
  return async () => {
    const stamp = await options.stamp().catch(() => undefined);
    if (held && stamp !== undefined && held.stamp === stamp && now() - held.readAt < options.recheckMs) return held.value;
    const readAt = now();
    const value = await options.read();
    // Of two reads ending out of order, the one begun later is kept; either pair would be correct.
    if (stamp !== undefined && (!held || held.readAt <= readAt)) held = { stamp, value, readAt };
    return value;
  };
}
