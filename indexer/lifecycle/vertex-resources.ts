import type { GcpConfig } from "../../config/schema.js";
import { RagopsError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { OperationFailedError, type OperationOutcome, type VertexOperationKind, type VertexOperations } from "../indexes/vertex-operations.js";
import { placementOf, vertexDeploySpec, vertexIndexSpec, vertexParent, type VertexPlacement } from "../indexes/vertex-settings.js";
import { getVersion, patchVersion, type PendingOperation } from "./versions.js";

/**
 * A Vertex index version's resources over its life, each change a Vertex
 * long-running operation: create the index and deploy it (before the build
 * syncs anything into it), batch-update it (a rebuild), undeploy and delete it
 * (retire). They take minutes to tens of minutes on Vertex, so they run in
 * jobs, and each step survives the worker that runs it:
 *
 * - a step starts its operation and records its name in the version's record
 *   (`operation`) before waiting on it;
 * - a step that finds an operation recorded follows it by name
 *   (checkXProgress) instead of starting another: a worker killed during a
 *   deploy leaves the name behind, and the job's next run picks it up;
 * - an operation of another step left behind (a build killed mid-deploy, then
 *   retired) is followed to its end first, its outcome ignored;
 * - when the step ends, the record's placement says what now exists (the
 *   index's name, deployed or not) and the operation is cleared.
 *
 * Starting what already exists (a deployment whose operation's name was lost)
 * is not an error (vertex-operations.ts). A createIndex whose name was lost
 * between the call and the record (a crash in that instant) leaves an index
 * nothing refers to; its labels (ragops_deployment, ragops_version) find it.
 */
export interface VertexResourceDeps {
  store: ObjectStore;
  gcp: GcpConfig;
  operations: VertexOperations;
  /** Called at every poll of an operation (a job reports it as progress). */
  onProgress?: (progress: ResourceProgress) => Promise<void> | void;
}

export interface ResourceProgress {
  version: string;
  step: PendingOperation["step"];
  operation: string;
  polls: number;
  elapsedMs: number;
}

type Step = PendingOperation["step"];

/** What each step's end changes in the version's placement. */
const APPLY: Record<Step, (current: VertexPlacement, outcome: OperationOutcome) => VertexPlacement> = {
  createIndex: (current, outcome) => ({ ...current, index: outcome.index as string }),
  deployIndex: (current) => ({ ...current, deployed: true }),
  updateIndex: (current) => current,
  undeployIndex: (current) => ({ ...current, deployed: false }),
  deleteIndex: ({ index: _deleted, ...rest }) => rest,
};

/** Creates the version's index (with `dimensions`) and deploys it, as far as its record says they are not yet; returns where it is. */
export async function provisionVertexIndex(deps: VertexResourceDeps, version: string, dimensions: number): Promise<VertexPlacement> {
  const record = await getVersion(deps.store, version);
  let placement = record.vertex ?? ((await patchVersion(deps.store, version, { vertex: placementOf(deps.gcp, version) })).vertex as VertexPlacement);
  if (!placement.index) {
    placement = (await runStep(deps, version, "createIndex", () => deps.operations.startCreateIndex(vertexParent(deps.gcp), vertexIndexSpec(deps.gcp, version, dimensions)))).placement;
  }
  if (!placement.deployed) {
    const { index, indexEndpoint, deployedIndexId } = placement;
    placement = (await runStep(deps, version, "deployIndex", () => deps.operations.startDeployIndex(indexEndpoint, { index: index as string, deployedIndexId, displayName: `ragops ${version}` }, vertexDeploySpec(deps.gcp)))).placement;
  }
  return placement;
}

/** Undeploys the version's index and deletes it; what its record says is gone is skipped, so it may run again. */
export async function teardownVertexIndex(deps: VertexResourceDeps, version: string): Promise<void> {
  let placement = (await getVersion(deps.store, version)).vertex;
  if (!placement) return;
  if (placement.deployed !== false) {
    const { indexEndpoint, deployedIndexId } = placement;
    placement = (await runStep(deps, version, "undeployIndex", () => deps.operations.startUndeployIndex(indexEndpoint, deployedIndexId))).placement;
  }
  if (placement.index) {
    const index = placement.index;
    await runStep(deps, version, "deleteIndex", () => deps.operations.startDeleteIndex(index));
  }
}

/** Updates the version's index from the batch files under `contentsDeltaUri`, following the operation to its end. */
export async function batchUpdateVertexIndex(deps: VertexResourceDeps, version: string, contentsDeltaUri: string, options: { completeOverwrite?: boolean } = {}): Promise<OperationOutcome> {
  const index = (await getVersion(deps.store, version)).vertex?.index;
  if (!index) throw new RagopsError("conflict", `index version ${version} has no Vertex index to update; build it first`);
  return (await runStep(deps, version, "updateIndex", () => deps.operations.startBatchUpdate(index, contentsDeltaUri, options))).outcome;
}

/**
 * One step: follows the operation the record names for it, or starts one and
 * records it; then writes what the step changed and clears the operation. A
 * start that finds nothing to do (undefined) goes straight to the change.
 */
async function runStep(deps: VertexResourceDeps, version: string, step: Step, start: () => Promise<string | undefined>): Promise<{ placement: VertexPlacement; outcome: OperationOutcome }> {
  const record = await getVersion(deps.store, version);
  const left = record.operation;
  if (left && left.step !== step) {
    // Left by a step that did not finish: let it end (and record what it did) before this one changes the same resources.
    const outcome = await follow(deps, version, left.step, left.name).catch(() => undefined);
    await finishStep(deps, version, left.step, outcome);
  }
  let name = left?.step === step ? left.name : undefined;
  if (name === undefined) {
    name = await start();
    if (name !== undefined) await patchVersion(deps.store, version, { operation: { step, name, startedAt: new Date().toISOString() } });
  }
  let outcome: OperationOutcome = {};
  if (name !== undefined) {
    try {
      outcome = await follow(deps, version, step, name);
    } catch (error) {
      // The operation itself failed: forget it, so the step's next run starts a new one (a failure to poll keeps it).
      if (error instanceof OperationFailedError) await patchVersion(deps.store, version, { operation: undefined });
      throw error;
    }
  }
  return { placement: await finishStep(deps, version, step, outcome), outcome };
}

/** Records a step's end: its change to the placement when it succeeded (an outcome), and no operation under way. */
async function finishStep(deps: VertexResourceDeps, version: string, step: Step, outcome: OperationOutcome | undefined): Promise<VertexPlacement> {
  const current = (await getVersion(deps.store, version)).vertex ?? placementOf(deps.gcp, version);
  const placement = outcome ? APPLY[step](current, outcome) : current;
  return (await patchVersion(deps.store, version, { vertex: placement, operation: undefined })).vertex as VertexPlacement;
}

function follow(deps: VertexResourceDeps, version: string, step: Step, name: string): Promise<OperationOutcome> {
  return deps.operations.wait(step satisfies VertexOperationKind, name, (poll) => deps.onProgress?.({ version, step, operation: name, polls: poll.polls, elapsedMs: poll.elapsedMs }));
}
