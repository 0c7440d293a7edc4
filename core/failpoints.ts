/**
 * Crash points for the fault suite. `RAGOPS_FAILPOINT=<name>` SIGKILLs this
 * process the first time it reaches failpoint(name), `<name>:<n>` the n-th
 * time: a crash exactly inside a window a random kill seldom hits (between an
 * alias write and its audit entry, say). Unset, a failpoint is one env read.
 */
const reached = new Map<string, number>();

export function failpoint(name: string): void {
  const spec = process.env.RAGOPS_FAILPOINT;
  if (!spec) return;
  const [wanted, nth = "1"] = spec.split(":");
  if (wanted !== name) return;
  const count = (reached.get(name) ?? 0) + 1;
  reached.set(name, count);
  if (count === Number(nth)) process.kill(process.pid, "SIGKILL");
}
