/**
 * Polls `probe` until it returns a value, and returns it. Tests wait on the
 * state they need this way; the deadline only turns a hang into a message
 * that names what never happened, so it is generous for a loaded machine.
 */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
