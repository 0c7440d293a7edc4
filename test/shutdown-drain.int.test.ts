import { describe, expect, it } from "vitest";
import { putDocument, startStack } from "./support/stack.js";

describe("draining before shutdown (http.shutdownDrainMs)", () => {
  it("keeps serving while /readyz answers 503 and every response closes its connection, then stops accepting", async () => {
    // A drain far longer than the test: the second close ends it, as nothing here waits on the clock.
    const stack = await startStack({ http: { port: 0, shutdownDrainMs: 600_000 } });
    try {
      expect((await putDocument(stack.url, "dock", "# Dock\n\nMount the charging dock against a solid wall.\n")).state).toBe("completed");
      expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);

      const closing = stack.server.close(1_000);
      const ready = await fetch(`${stack.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { error: { message: string } }).error.message).toMatch(/shutting down.*http\.shutdownDrainMs/);
      const search = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "charging dock" }) });
      expect(search.status).toBe(200);
      expect(search.headers.get("connection")).toBe("close");
      expect(((await search.json()) as { results: { documentId: string }[] }).results[0]?.documentId).toBe("dock");

      await stack.server.close();
      await closing;
      await expect(fetch(`${stack.url}/healthz`)).rejects.toThrow();
    } finally {
      await stack.stop();
    }
  });
});
