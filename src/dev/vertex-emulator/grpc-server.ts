import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { GrpcClient, grpc } from "google-gax";
import { EmulatorError } from "./emulator-error.js";
import { createFaults, type Faults } from "./faults.js";

/**
 * A local gRPC server for Google API emulators, built on the .proto files the
 * client packages ship (@google-cloud/aiplatform's build/protos, and
 * google-gax's for google.longrunning, google.api and google.rpc), served with
 * the grpc-js instance google-gax uses, so the real clients can talk to it.
 *
 * Each emulated service is a module that names its proto file and the methods
 * it serves (see prediction-service.ts). A method it leaves out answers
 * UNIMPLEMENTED, as grpc-js does for any method without a handler: nothing is
 * stubbed. Every call is counted and passes the fault injector first.
 */

/**
 * One unary method: the request as @grpc/proto-loader decodes it (camelCase,
 * int64 as strings, a oneof's choice named by `kind`), the response as a plain
 * object. Each service module types its own requests.
 */
export type UnaryMethod = (request: never) => Promise<unknown>;

export interface EmulatedService {
  /** Fully qualified name, e.g. google.cloud.aiplatform.v1.PredictionService. */
  name: string;
  /** The .proto file that defines it, relative to a protos directory (aiplatform's or google-gax's). */
  protoFile: string;
  /** Handlers by method name (as in the proto: Predict, GetOperation, ...). */
  methods: Record<string, UnaryMethod>;
}

export interface GrpcEmulator {
  /** Where the clients connect: 127.0.0.1 and this port, without TLS. */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>`, the form ragops' gcp.vertexApiEndpoint takes. */
  endpoint: string;
  faults: Faults;
  /** Calls received by a method (e.g. "Predict"), or by every method, faulted ones included. */
  calls(method?: string): number;
  /** Most calls of a method (or of all methods) in progress at once so far. */
  peakInFlight(method?: string): number;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);
/** The aiplatform package's protos; google-gax adds its own directory to every load. */
export const AIPLATFORM_PROTOS = join(dirname(require.resolve("@google-cloud/aiplatform/package.json")), "build", "protos");

export async function startGrpcEmulator(services: readonly EmulatedService[], options: { port?: number } = {}): Promise<GrpcEmulator> {
  const loader = new GrpcClient({ grpc });
  const root = loader.loadProto(AIPLATFORM_PROTOS, [...new Set(services.map((s) => s.protoFile))]);
  const server = new grpc.Server();
  const faults = createFaults();
  const counts = new Map<string, number>();
  const inFlight = new Map<string, number>();
  const peaks = new Map<string, number>();
  const track = (method: string, delta: number) => {
    for (const key of [method, ""]) {
      const now = (inFlight.get(key) ?? 0) + delta;
      inFlight.set(key, now);
      peaks.set(key, Math.max(peaks.get(key) ?? 0, now));
    }
  };

  for (const service of services) {
    const definition = lookupService(root, service.name);
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [method, handle] of Object.entries(service.methods)) {
      if (!(method in definition)) throw new Error(`${service.name} has no method ${method} in ${service.protoFile}`);
      handlers[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        counts.set(method, (counts.get(method) ?? 0) + 1);
        track(method, 1);
        faults
          .apply(method)
          .then(() => handle(call.request as never))
          .then(
            (response) => callback(null, response),
            (error: unknown) => callback(asServiceError(error)),
          )
          .finally(() => track(method, -1));
      };
    }
    server.addService(definition, handlers);
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    host: "127.0.0.1",
    port,
    endpoint: `http://127.0.0.1:${port}`,
    faults,
    peakInFlight: (method) => peaks.get(method ?? "") ?? 0,
    calls: (method) => (method === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(method) ?? 0)),
    stop: async () => {
      faults.clear();
      server.forceShutdown();
    },
  };
}

function lookupService(root: grpc.GrpcObject, name: string): grpc.ServiceDefinition {
  let node: unknown = root;
  for (const part of name.split(".")) node = (node as Record<string, unknown> | undefined)?.[part];
  const definition = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!definition) throw new Error(`no service ${name} in the loaded protos`);
  return definition;
}

function asServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof EmulatorError) return { code: error.code, details: error.message };
  // A bug in the emulator, not an answer a real service would give: say so loudly.
  return { code: grpc.status.INTERNAL, details: `emulator bug: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` };
}
