import { describe, expect, it } from "vitest";
import { GrpcCode, grpcFailure, isRetriedGrpcFailure, vertexError } from "./grpc-status.js";

/** Errors as google-gax throws them: an Error with the numeric code and the details. */
const clientError = (code: number, details: string) => Object.assign(new Error(`${code} ${details}`), { code, details });

describe("Vertex gRPC failures", () => {
  it("retries quota, unavailable and deadline failures, and nothing else", () => {
    expect([GrpcCode.RESOURCE_EXHAUSTED, GrpcCode.UNAVAILABLE, GrpcCode.DEADLINE_EXCEEDED].map((code) => isRetriedGrpcFailure(clientError(code, "x")))).toEqual([true, true, true]);
    expect([GrpcCode.INVALID_ARGUMENT, GrpcCode.NOT_FOUND, GrpcCode.PERMISSION_DENIED, GrpcCode.INTERNAL].map((code) => isRetriedGrpcFailure(clientError(code, "x")))).toEqual([false, false, false, false]);
    expect(isRetriedGrpcFailure(new TypeError("bug"))).toBe(false);
  });

  it("gives up on a retried failure with a retryable error that says how often it tried and what to do about quota", () => {
    const error = vertexError(clientError(GrpcCode.RESOURCE_EXHAUSTED, "Quota exceeded"), "embedding 3 texts with text-embedding-005", 5);
    expect(error).toMatchObject({ retryable: true, status: 503, details: { grpcStatus: "RESOURCE_EXHAUSTED", attempts: 5 } });
    expect(error.message).toBe(
      "Vertex AI embedding 3 texts with text-embedding-005 failed 5 time(s) in a row (RESOURCE_EXHAUSTED: Quota exceeded); the project's quota is used up: lower embedder.vertex.requestConcurrency or queue.concurrency, or ask Google for more quota",
    );
  });

  it("names the IAM role on a permission failure, and does not call it retryable", () => {
    const error = vertexError(clientError(GrpcCode.PERMISSION_DENIED, "Permission denied"), "embedding", 1);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("roles/aiplatform.user");
  });

  it("lets a job retry an internal server error, without retrying it at once", () => {
    expect(isRetriedGrpcFailure(clientError(GrpcCode.INTERNAL, "x"))).toBe(false);
    expect(vertexError(clientError(GrpcCode.INTERNAL, "x"), "embedding", 1).retryable).toBe(true);
  });

  it("reads an error that is not a gRPC status as a non-retryable failure, with a hint when credentials are missing", () => {
    expect(grpcFailure(new Error("Could not load the default credentials."))).toBeUndefined();
    const error = vertexError(new Error("Could not load the default credentials."), "embedding", 1);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("gcloud auth application-default login");
  });
});
