import type { ClientOptions } from "google-gax";

/** Where ragops finds Vertex AI: config gcp.location and gcp.vertexApiEndpoint. */
export interface VertexEndpointConfig {
  location: string;
  /** `http://host:port`: a local emulator, no TLS, no credentials. `https://host[:port]`: that endpoint with TLS and Application Default Credentials. Absent: the regional endpoint. */
  vertexApiEndpoint?: string | undefined;
}

/**
 * Constructor options for any @google-cloud/aiplatform v1 client.
 *
 * By default the regional endpoint (<location>-aiplatform.googleapis.com) with
 * Application Default Credentials, resolved by the client as usual. An http://
 * endpoint is an emulator: the channel is insecure, built with the grpc-js of
 * google-gax (credentials from another grpc-js copy are refused), and
 * universeDomain is given so the client does not probe the GCE metadata server
 * for it (a hang without network).
 */
export async function vertexClientOptions(config: VertexEndpointConfig): Promise<ClientOptions> {
  if (!config.vertexApiEndpoint) return { apiEndpoint: regionalHost(config.location) };
  const url = new URL(config.vertexApiEndpoint);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (url.protocol === "https:") return { apiEndpoint: host, ...(url.port ? { port: Number(url.port) } : {}) };
  const { grpc } = await import("google-gax");
  return { apiEndpoint: host, port: Number(url.port || 80), sslCreds: grpc.credentials.createInsecure(), universeDomain: "googleapis.com" };
}

function regionalHost(location: string): string {
  return location === "global" ? "aiplatform.googleapis.com" : `${location}-aiplatform.googleapis.com`;
}
