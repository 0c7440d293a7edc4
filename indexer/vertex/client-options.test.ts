import { describe, expect, it } from "vitest";
import { vertexClientOptions } from "./client-options.js";

describe("vertexClientOptions", () => {
  it("uses the regional endpoint with the client's own credentials by default", async () => {
    expect(await vertexClientOptions({ location: "europe-west4" })).toEqual({ apiEndpoint: "europe-west4-aiplatform.googleapis.com" });
    expect(await vertexClientOptions({ location: "global" })).toEqual({ apiEndpoint: "aiplatform.googleapis.com" });
  });

  it("keeps TLS and credentials for an https:// endpoint", async () => {
    expect(await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: "https://vertex.internal.example:8443" })).toEqual({ apiEndpoint: "vertex.internal.example", port: 8443 });
  });

  it("talks to an http:// emulator over an insecure channel, without asking the metadata server for the universe domain", async () => {
    const options = await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: "http://127.0.0.1:8085" });
    expect(options).toMatchObject({ apiEndpoint: "127.0.0.1", port: 8085, universeDomain: "googleapis.com" });
    expect(options.sslCreds?._isSecure()).toBe(false);
  });
});
