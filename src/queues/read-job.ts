import type { Job, JobState, Queue } from "bullmq";

/**
 * A job and its state, read so that a finished state always comes with the
 * job's result or failure: the job can finish between reading its data and
 * reading its state, and "completed" beside the data of a running job reads
 * as a job that returned nothing. A finished job is read again after its state.
 */
export async function readJob(getJob: Queue["getJob"] | ((id: string) => Promise<Job | undefined>), id: string): Promise<{ job: Job; state: JobState | "unknown" } | undefined> {
  const first = await getJob(id);
  if (!first) return undefined;
  const state = await first.getState();
  const job = state === "completed" || state === "failed" ? ((await getJob(id)) ?? first) : first;
  return { job, state };
}
