import type { grpc } from "google-gax";

/** A failure an emulated method answers with: a gRPC status code and its details, as the real service would send them. */
export class EmulatorError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = "EmulatorError";
  }
}
