import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";
import type { Queue } from "bullmq";
import type { Router } from "express";

export const BULL_BOARD_PATH = "/admin/queues";

/**
 * bull-board, the queues' web UI, for operators (route-policy.ts): jobs by
 * state, their data, progress and failure reasons, and retry or remove. With
 * tokens a browser signs in with Basic credentials, any name and the token
 * as the password (auth.ts).
 */
export function bullBoardRouter(queues: readonly Queue[]): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: queues.map((queue) => new BullMQAdapter(queue)), serverAdapter, options: { uiConfig: { boardTitle: "ragops queues" } } });
  return serverAdapter.getRouter() as Router;
}
