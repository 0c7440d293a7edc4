import { grpc } from "google-gax";
import { packAny, type WireAny } from "./any.js";
import { EmulatorError } from "./emulator-error.js";
import type { EmulatedService } from "./grpc-server.js";

/**
 * Long-running operations, and google.longrunning.Operations.GetOperation to
 * poll them. A method that starts one answers {name, done: false, metadata};
 * the work is done, and the operation ends, on the GetOperation poll that
 * finishes it: the `pollsToFinish`th (1: the first poll, which the client
 * sends at once). While a hold is on, no operation finishes, however often it
 * is polled: a test can stop the process that started an operation and let
 * another one pick it up by name.
 *
 * An operation's `finish` does the work (creates the index, deploys it, ...)
 * and returns the response, or throws an EmulatorError, which ends the
 * operation with that error (as Vertex reports a failed operation: done, with
 * an error status, not a failed GetOperation).
 */
export interface OperationsControl {
  /** GetOperation polls an operation takes to finish; the first poll counts. @defaultValue 1 */
  pollsToFinish: number;
  /** No operation (started by a method whose name starts with `method`, when given: "DeployIndex") finishes until the hold is released; polls are still answered, not done. */
  hold(options?: { method?: string }): OperationHold;
  /** Every operation started, in order. */
  list(): OperationRecord[];
}

export interface OperationHold {
  /** Resolves once operations this hold holds have been polled `count` more times (all together) since this call. */
  polled(count?: number): Promise<void>;
  release(): void;
}

export interface OperationRecord {
  name: string;
  /** The method that started it, e.g. DeployIndex. */
  method: string;
  done: boolean;
  polls: number;
  /** The status it ended with, when it failed. */
  error?: { code: number; message: string };
}

export interface Finished {
  /** Fully qualified message type of the response, e.g. google.cloud.aiplatform.v1.Index. */
  type: string;
  response: object;
  /** Replaces the metadata the operation started with (e.g. with content validation stats). */
  metadata?: object;
}

export interface StartedOperation {
  method: string;
  /** The resource the operation works on: its name is `<resource>/operations/<id>`. */
  resource: string;
  metadataType: string;
  metadata: object;
  finish(): Finished;
}

export interface WireOperation {
  name: string;
  done: boolean;
  metadata: WireAny;
  response?: WireAny;
  error?: { code: number; message: string; details: never[] };
}

export interface Operations extends OperationsControl {
  start(operation: StartedOperation): WireOperation;
  /** Operations not finished yet that `method` started on `resource`. */
  pending(method: string, resource: string): number;
  service: EmulatedService;
}

interface Running extends OperationRecord {
  operation: StartedOperation;
  metadata: WireAny;
  response?: WireAny;
}

export function createOperations(options: { pollsToFinish?: number } = {}): Operations {
  const running = new Map<string, Running>();
  let nextId = 7_000_000_000;
  let holds: Array<{ method: string | undefined; polls: number; watchers: Set<() => void> }> = [];

  const wire = (op: Running): WireOperation => ({
    name: op.name,
    done: op.done,
    metadata: op.metadata,
    ...(op.response ? { response: op.response } : {}),
    ...(op.error ? { error: { ...op.error, details: [] } } : {}),
  });

  const finish = (op: Running) => {
    op.done = true;
    try {
      const finished = op.operation.finish();
      op.response = packAny(finished.type, finished.response);
      if (finished.metadata) op.metadata = packAny(op.operation.metadataType, finished.metadata);
    } catch (error) {
      if (!(error instanceof EmulatorError)) throw error;
      op.error = { code: error.code, message: error.message };
    }
  };

  const getOperation = async (request: { name: string }) => {
    const op = running.get(request.name);
    if (!op) throw new EmulatorError(grpc.status.NOT_FOUND, `Operation ${request.name} not found.`);
    if (op.done) return wire(op);
    op.polls += 1;
    const holding = holds.filter((hold) => hold.method === undefined || op.method.startsWith(hold.method));
    if (holding.length > 0) {
      for (const hold of holding) {
        hold.polls += 1;
        hold.watchers.forEach((watch) => watch());
      }
      return wire(op);
    }
    if (op.polls >= control.pollsToFinish) finish(op);
    return wire(op);
  };

  const control: Operations = {
    pollsToFinish: options.pollsToFinish ?? 1,
    start: (operation) => {
      const name = `${operation.resource}/operations/${(nextId += 1)}`;
      const op: Running = { name, method: operation.method, done: false, polls: 0, operation, metadata: packAny(operation.metadataType, operation.metadata) };
      running.set(name, op);
      return wire(op);
    },
    pending: (method, resource) => [...running.values()].filter((op) => !op.done && op.method === method && op.operation.resource === resource).length,
    hold: (options = {}) => {
      const hold = { method: options.method, polls: 0, watchers: new Set<() => void>() };
      holds.push(hold);
      return {
        polled: (count = 1) => {
          const target = hold.polls + count;
          return new Promise<void>((resolve) => {
            const watch = () => {
              if (hold.polls < target) return;
              hold.watchers.delete(watch);
              resolve();
            };
            hold.watchers.add(watch);
          });
        },
        release: () => void (holds = holds.filter((h) => h !== hold)),
      };
    },
    list: () => [...running.values()].map(({ name, method, done, polls, error }) => ({ name, method, done, polls, ...(error ? { error } : {}) })),
    service: { name: "google.longrunning.Operations", protoFile: "google/longrunning/operations.proto", methods: { GetOperation: getOperation } },
  };
  return control;
}

/** google.cloud.aiplatform.v1.GenericOperationMetadata for now. */
export function genericMetadata(): { createTime: Timestamp; updateTime: Timestamp } {
  const now = timestamp(new Date());
  return { createTime: now, updateTime: now };
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export function timestamp(date: Date): Timestamp {
  const ms = date.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
