import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromWireRestricts, toWireDatapoint, toWireFilter, toWireQuery } from "./vertex-datapoints.js";
import type { Datapoint } from "./vector-index.js";

const tokens = fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 4 });
const datapointArb: fc.Arbitrary<Datapoint> = fc.record({
  id: fc.string({ minLength: 1, maxLength: 20 }),
  vector: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 8 }),
  restricts: fc.record({ documentIds: tokens, tags: tokens, contentTypes: tokens }),
  numericRestricts: fc.record({ date: fc.oneof(fc.integer({ min: 0, max: 4_102_444_800 }), fc.double({ noNaN: true, noDefaultInfinity: true })) }, { requiredKeys: [] }),
});

describe("Vertex datapoint mapping", () => {
  it("reads back the restricts and numeric restricts it writes, exactly, whatever the tokens and numbers", () => {
    fc.assert(
      fc.property(datapointArb, (datapoint) => {
        expect(fromWireRestricts(toWireDatapoint(datapoint))).toEqual({ restricts: datapoint.restricts, numericRestricts: datapoint.numericRestricts });
      }),
    );
  });

  it("writes no restriction for a namespace without tokens, and numbers as valueDouble", () => {
    const wire = toWireDatapoint({ id: "a", vector: [1, 0], restricts: { documentIds: ["d1"], tags: [], contentTypes: [] }, numericRestricts: { date: 1_700_000_000 } });
    expect(wire).toEqual({ datapointId: "a", featureVector: [1, 0], restricts: [{ namespace: "documentIds", allowList: ["d1"] }], numericRestricts: [{ namespace: "date", valueDouble: 1_700_000_000 }] });
  });

  it("sends a filter's non-empty lists only, and every numeric comparison with its op", () => {
    expect(toWireFilter({ restricts: { tags: { allow: [], deny: [] }, documentIds: { deny: ["d2"] } }, numeric: [{ namespace: "date", op: "GREATER_EQUAL", value: 5 }] })).toEqual({
      restricts: [{ namespace: "documentIds", allowList: [], denyList: ["d2"] }],
      numericRestricts: [{ namespace: "date", valueDouble: 5, op: "GREATER_EQUAL" }],
    });
  });

  it("queries with a unit-length vector, so the dot product is the cosine", () => {
    expect(toWireQuery([3, 4], { k: 2 }).datapoint?.featureVector).toEqual([0.6, 0.8]);
    expect(toWireQuery([0, 0], { k: 2 }).neighborCount).toBe(2);
  });
});
