import { Router, type NextFunction, type Request, type Response } from "express";

type Handler = (req: Request, res: Response) => Promise<void>;

/** An async handler whose rejection goes to the error middleware (one error shape, see errors.ts). */
export const route = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);

/**
 * A router with the app's routing rules: a Router does not inherit the app's
 * settings, so each one is made case-sensitive and strict here — one spelling
 * per route, /V1/... or /v1/.../ match nothing (see auth.ts).
 */
export function strictRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}
