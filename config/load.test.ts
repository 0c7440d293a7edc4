import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./load.js";

describe("loadConfig", () => {
  it("gives every setting a default when nothing is configured", () => {
    const config = loadConfig({ env: {} });
    expect(config.chunking).toEqual({ sizeTokens: 512, overlapRatio: 0.15, minSectionTokens: 64 });
    expect(config.embedder.dimensions).toBe(384);
    expect(config.http.port).toBe(8080);
  });

  it("lets environment variables override the config file", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-config-"));
    const file = join(dir, "ragops.json");
    writeFileSync(file, JSON.stringify({ http: { port: 9000 }, chunking: { sizeTokens: 300 } }));
    const config = loadConfig({ env: { RAGOPS_CONFIG: file, PORT: "9100" } });
    expect(config.http.port).toBe(9100);
    expect(config.chunking.sizeTokens).toBe(300);
  });

  it("names the environment variable and the setting when a value is not a number", () => {
    expect(() => loadConfig({ env: { PORT: "eighty" } })).toThrowError(/PORT="eighty" \(http\.port\).*expected number/);
  });

  it("names the variable when a value is out of range", () => {
    expect(() => loadConfig({ env: { RAGOPS_CHUNK_OVERLAP_RATIO: "0.5" } })).toThrowError(/RAGOPS_CHUNK_OVERLAP_RATIO="0.5" \(chunking\.overlapRatio\)/);
  });

  it("names an unknown key in the config file with the file's path", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-config-"));
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ chunking: { size: 300 } }));
    try {
      loadConfig({ env: {}, file });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).message).toContain(`${file}: chunking: unknown setting(s) "size"`);
    }
  });

  it("reports every bad setting at once", () => {
    expect(() => loadConfig({ env: { PORT: "x", RAGOPS_EMBED_DIMENSIONS: "3" } })).toThrowError(/PORT[\s\S]*RAGOPS_EMBED_DIMENSIONS/);
  });
});

describe("the gcp profile and the object store provider", () => {
  it("keeps the local object store the default and needs nothing of Google Cloud", () => {
    const config = loadConfig({ env: {} });
    expect(config.objectStore.provider).toBe("local");
    expect(config.gcp).toMatchObject({ location: "us-central1", objectPrefix: "" });
    expect(config.gcp.bucket).toBeUndefined();
  });

  it("selects GCS from the environment, with the bucket, prefix, project and emulator endpoint", () => {
    const config = loadConfig({
      env: { RAGOPS_OBJECT_STORE: "gcs", GCS_BUCKET: "acme-rag", RAGOPS_GCS_PREFIX: "ragops/prod", VERTEX_PROJECT: "acme-prod", RAGOPS_GCS_ENDPOINT: "http://127.0.0.1:4443" },
    });
    expect(config.objectStore.provider).toBe("gcs");
    expect(config.gcp).toMatchObject({ bucket: "acme-rag", objectPrefix: "ragops/prod", project: "acme-prod", storageApiEndpoint: "http://127.0.0.1:4443" });
  });

  it("refuses the gcs provider without a bucket, naming the variable to set", () => {
    expect(() => loadConfig({ env: { RAGOPS_OBJECT_STORE: "gcs" } })).toThrowError(/gcp\.bucket: .*GCS_BUCKET/);
  });

  it("refuses a bucket name GCS would refuse and a prefix that is not a plain path", () => {
    expect(() => loadConfig({ env: { GCS_BUCKET: "Acme_RAG!" } })).toThrowError(/GCS_BUCKET="Acme_RAG!" \(gcp\.bucket\)/);
    expect(() => loadConfig({ env: { RAGOPS_GCS_PREFIX: "/abs//x" } })).toThrowError(/RAGOPS_GCS_PREFIX="\/abs\/\/x" \(gcp\.objectPrefix\)/);
  });

  it("refuses an upload chunk size GCS would refuse (not a multiple of 256 KiB)", () => {
    expect(() => loadConfig({ env: {}, overrides: { gcp: { uploadChunkBytes: 1_000_000 } } })).toThrowError(/gcp\.uploadChunkBytes/);
  });
});

describe("the Vertex embedder's settings", () => {
  it("keeps the offline embedder the default, with Vertex settings ready for a version that picks Vertex", () => {
    const config = loadConfig({ env: {} });
    expect(config.embedder.provider).toBe("offline");
    expect(config.embedder.vertex).toEqual({ model: "text-embedding-005", requestConcurrency: 4, maxAttempts: 5 });
    expect(config.gcp).toMatchObject({ location: "us-central1" });
    expect(config.gcp.project).toBeUndefined();
  });

  it("takes the provider, model, project, location and endpoint from the environment", () => {
    const config = loadConfig({
      env: { RAGOPS_EMBEDDER: "vertex", RAGOPS_VERTEX_MODEL: "gemini-embedding-001", RAGOPS_EMBED_DIMENSIONS: "1536", VERTEX_PROJECT: "acme-rag", VERTEX_LOCATION: "europe-west4", VERTEX_API_ENDPOINT: "http://127.0.0.1:8085" },
    });
    expect(config.embedder).toMatchObject({ provider: "vertex", dimensions: 1536, vertex: { model: "gemini-embedding-001" } });
    expect(config.gcp).toMatchObject({ project: "acme-rag", location: "europe-west4", vertexApiEndpoint: "http://127.0.0.1:8085" });
  });

  it("refuses the Vertex embedder without a project", () => {
    expect(() => loadConfig({ env: { RAGOPS_EMBEDDER: "vertex" } })).toThrowError(/gcp\.project: the vertex embedder needs a Google Cloud project \(VERTEX_PROJECT\)/);
  });

  it("refuses more dimensions than the Vertex model makes", () => {
    expect(() => loadConfig({ env: { RAGOPS_EMBEDDER: "vertex", VERTEX_PROJECT: "acme-rag", RAGOPS_EMBED_DIMENSIONS: "1024" } })).toThrowError(/RAGOPS_EMBED_DIMENSIONS="1024" \(embedder\.dimensions\): text-embedding-005 makes at most 768 dimensions/);
    expect(loadConfig({ env: { RAGOPS_EMBEDDER: "vertex", VERTEX_PROJECT: "acme-rag", RAGOPS_VERTEX_MODEL: "gemini-embedding-001", RAGOPS_EMBED_DIMENSIONS: "3072" } }).embedder.dimensions).toBe(3072);
  });

  it("keeps LanceDB the default index, with Vertex Vector Search settings ready for a version that picks Vertex", () => {
    const config = loadConfig({ env: {} });
    expect(config.index.provider).toBe("lancedb");
    expect(config.gcp.vectorSearch).toMatchObject({ deployedIndexPrefix: "ragops", upsertBatchSize: 100, readBatchSize: 1000, shardSize: "SHARD_SIZE_SMALL", algorithm: "treeAh" });
    expect(config.gcp.vectorSearch.indexEndpoint).toBeUndefined();
  });

  it("selects Vertex Vector Search from the environment, and refuses it without a project or an index endpoint", () => {
    const config = loadConfig({ env: { RAGOPS_INDEX_PROVIDER: "vertex", RAGOPS_RETRIEVAL_MODE: "dense", VERTEX_PROJECT: "acme-rag", VERTEX_INDEX_ENDPOINT: "1234567890", RAGOPS_VERTEX_STAGING_URI: "gs://acme-rag/vertex-batches" } });
    expect(config.index.provider).toBe("vertex");
    expect(config.gcp.vectorSearch).toMatchObject({ indexEndpoint: "1234567890", stagingUri: "gs://acme-rag/vertex-batches" });
    expect(() => loadConfig({ env: { RAGOPS_INDEX_PROVIDER: "vertex" } })).toThrowError(/index\.provider 'vertex' needs a Google Cloud project[\s\S]*needs the index endpoint versions are deployed on \(VERTEX_INDEX_ENDPOINT\)/);
    expect(() => loadConfig({ env: { VERTEX_INDEX_ENDPOINT: "projects/p/locations/l/indexes/1" } })).toThrowError(/VERTEX_INDEX_ENDPOINT.*indexEndpoints resource name/);
  });

  it("selects GCS, the Vertex embedder and Vertex Vector Search with RAGOPS_PROFILE=gcp, under what is set explicitly, and names what the profile still needs", () => {
    const gcp = { RAGOPS_PROFILE: "gcp", VERTEX_PROJECT: "acme-rag", GCS_BUCKET: "acme-rag", VERTEX_INDEX_ENDPOINT: "1234567890" };
    const config = loadConfig({ env: gcp });
    expect(config).toMatchObject({ profile: "gcp", objectStore: { provider: "gcs" }, embedder: { provider: "vertex", dimensions: 768 }, index: { provider: "vertex" }, gcp: { project: "acme-rag", bucket: "acme-rag", location: "us-central1" } });
    expect(loadConfig({ env: { ...gcp, RAGOPS_EMBEDDER: "offline", RAGOPS_INDEX_PROVIDER: "lancedb" } })).toMatchObject({ embedder: { provider: "offline" }, index: { provider: "lancedb" }, objectStore: { provider: "gcs" } });
    expect(loadConfig({ env: {} }).profile).toBe("local");
    expect(() => loadConfig({ env: { RAGOPS_PROFILE: "gcp" } })).toThrowError(/gcp\.bucket[\s\S]*VERTEX_PROJECT[\s\S]*VERTEX_INDEX_ENDPOINT/);
    expect(() => loadConfig({ env: { RAGOPS_PROFILE: "aws" } })).toThrowError(/RAGOPS_PROFILE="aws"/);
  });

  it("takes Vertex Vector Search in every retrieval mode, hybrid (the default) included", () => {
    const config = loadConfig({ env: { RAGOPS_INDEX_PROVIDER: "vertex", VERTEX_PROJECT: "acme-rag", VERTEX_INDEX_ENDPOINT: "1234567890" } });
    expect(config.retrieval.mode).toBe("hybrid");
    expect(config.gcp.vectorSearch.hybridFusion).toBe("ragops");
    expect(loadConfig({ env: { RAGOPS_INDEX_PROVIDER: "vertex", RAGOPS_RETRIEVAL_MODE: "text", VERTEX_PROJECT: "acme-rag", VERTEX_INDEX_ENDPOINT: "1234567890" } }).retrieval.mode).toBe("text");
  });

  it("takes an emulator endpoint only as an http:// or https:// URL", () => {
    expect(() => loadConfig({ env: { VERTEX_API_ENDPOINT: "127.0.0.1:8085" } })).toThrowError(/VERTEX_API_ENDPOINT="127.0.0.1:8085" \(gcp\.vertexApiEndpoint\)/);
  });
});

describe("ragops start-up with a bad setting", () => {
  it("exits with status 2 and a message naming the variable, before connecting to anything", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
      env: { ...process.env, PORT: "not-a-port", REDIS_URL: "redis://127.0.0.1:1" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('PORT="not-a-port" (http.port)');
  });
});

describe("API tokens from the environment", () => {
  it("reads name:token pairs, and never echoes a token in an error", () => {
    expect(loadConfig({ env: { RAGOPS_API_TOKENS: "alice:0123456789abcdef0,bob:fedcba98765432100" } }).auth.tokens).toEqual({ alice: "0123456789abcdef0", bob: "fedcba98765432100" });
    try {
      loadConfig({ env: { RAGOPS_API_TOKENS: "alice:short-secret" } });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain("RAGOPS_API_TOKENS=(hidden)");
      expect((error as Error).message).not.toContain("short-secret");
    }
  });
});

describe("allowed hosts from the environment", () => {
  it("reads a comma-separated list, lowercased, and names the variable when an entry is not a host", () => {
    expect(loadConfig({ env: { RAGOPS_ALLOWED_HOSTS: "Rag.Internal, rag.internal:9000" } }).http.allowedHosts).toEqual(["rag.internal", "rag.internal:9000"]);
    expect(() => loadConfig({ env: { RAGOPS_ALLOWED_HOSTS: "http://rag.internal/" } })).toThrow(/RAGOPS_ALLOWED_HOSTS/);
  });
});
