import type { Worker } from "bullmq";
import type { Redis } from "ioredis";

/**
 * Takes up, as a worker starts, the jobs a dead worker left active: those
 * whose claim (BullMQ's lock) is gone. BullMQ alone would need two of its
 * stall checks (one to mark a job, one to move it), up to
 * 2 × queue.stalledIntervalMs after the lock expired; a worker restarted
 * after a crash should not wait that. Each such job is handed to BullMQ's own
 * stall check at once, which moves it back to waiting (counting the
 * interruption, and failing it when it was interrupted more than
 * queue.maxStalledCount times, see final-failure.ts). Jobs still holding a
 * lock belong to a live worker, or to one that died less than
 * queue.lockDurationMs ago: the regular stall check takes those up once the
 * lock expires.
 *
 * Returns the ids taken up, and those still held, so a command with a
 * built-in worker can wait for both before it exits.
 */
export async function reclaimStalledJobs(worker: Worker, redis: Redis): Promise<{ reclaimed: string[]; held: string[] }> {
  const active = await redis.lrange(worker.toKey("active"), 0, -1);
  if (active.length === 0) return { reclaimed: [], held: [] };
  const pipeline = redis.pipeline();
  for (const id of active) pipeline.exists(`${worker.toKey(id)}:lock`);
  const locked = ((await pipeline.exec()) ?? []).map(([, value]) => value === 1);
  const reclaimed = active.filter((_, i) => !locked[i]);
  const held = active.filter((_, i) => locked[i]);
  if (reclaimed.length > 0) {
    // Marked as BullMQ's previous check would have marked them; the check throttle is lifted so the next check runs now.
    await redis.multi().sadd(worker.toKey("stalled"), ...reclaimed).del(worker.toKey("stalled-check")).exec();
    await worker.startStalledCheckTimer();
  }
  return { reclaimed, held };
}
