import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planRequests, vertexEmbedderIdentity, vertexModelLimits } from "./vertex-requests.js";

describe("planRequests", () => {
  const limits = fc.record({ maxTexts: fc.integer({ min: 1, max: 20 }), maxTokens: fc.integer({ min: 1, max: 5_000 }) });
  const counts = fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 120 });

  it("puts every text in exactly one request, in order, within the text and token limits", () => {
    fc.assert(
      fc.property(counts, limits, (tokens, limit) => {
        const plan = planRequests(tokens, limit);
        expect(plan.flat()).toEqual(tokens.map((_, i) => i));
        for (const request of plan) {
          expect(request.length).toBeGreaterThan(0);
          expect(request.length).toBeLessThanOrEqual(limit.maxTexts);
          // A text over the token limit on its own goes alone (the adapter truncates first, so it never is).
          if (request.length > 1) expect(request.reduce((sum, i) => sum + (tokens[i] as number), 0)).toBeLessThanOrEqual(limit.maxTokens);
        }
      }),
    );
  });

  it("starts a new request only when the next text does not fit the current one", () => {
    fc.assert(
      fc.property(counts, limits, (tokens, limit) => {
        const plan = planRequests(tokens, limit);
        for (let r = 1; r < plan.length; r += 1) {
          const previous = plan[r - 1] as number[];
          const first = (plan[r] as number[])[0] as number;
          const wouldHold = previous.reduce((sum, i) => sum + (tokens[i] as number), 0) + (tokens[first] as number);
          expect(previous.length === limit.maxTexts || wouldHold > limit.maxTokens, `request ${r} could have joined the one before`).toBe(true);
        }
      }),
    );
  });

  it("plans nothing for no texts", () => {
    expect(planRequests([], { maxTexts: 250, maxTokens: 15_000 })).toEqual([]);
  });
});

describe("Vertex embedding models", () => {
  it("knows the documented limits of the models ragops names", () => {
    expect(vertexModelLimits("text-embedding-005")).toEqual({ maxDimensions: 768, maxTextsPerRequest: 250, maxInputTokens: 2048, maxRequestTokens: 20_000 });
    expect(vertexModelLimits("gemini-embedding-001")).toEqual({ maxDimensions: 3072, maxTextsPerRequest: 1, maxInputTokens: 2048, maxRequestTokens: 20_000 });
  });

  it("takes another model by name, one text per request for a Gemini model, with no dimension check", () => {
    expect(vertexModelLimits("text-embedding-large-exp-03-07")).toEqual({ maxDimensions: undefined, maxTextsPerRequest: 250, maxInputTokens: 2048, maxRequestTokens: 20_000 });
    expect(vertexModelLimits("gemini-embedding-002").maxTextsPerRequest).toBe(1);
  });

  it("pins provider, model, the model's version and dimensions in the identity", () => {
    expect(vertexEmbedderIdentity("text-embedding-005", 768)).toEqual({ provider: "vertex", model: "text-embedding-005", version: "005", dimensions: 768 });
    expect(vertexEmbedderIdentity("gemini-embedding-001", 3072).version).toBe("001");
    expect(vertexEmbedderIdentity("textembedding-gecko@003", 768)).toEqual({ provider: "vertex", model: "textembedding-gecko@003", version: "003", dimensions: 768 });
    expect(vertexEmbedderIdentity("text-embedding-large-exp-03-07", 256).version).toBe("unpinned");
  });
});
