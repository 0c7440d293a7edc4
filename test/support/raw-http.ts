import { request } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The JSON body, or undefined when the body is not JSON. */
  json: (Record<string, unknown> & { error?: { code: string; message: string } }) | undefined;
}

export interface RawRequest {
  method: string;
  /** Sent as is: no normalisation of case, dot segments, slashes or percent-encoding (fetch would normalise). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

/** One HTTP/1.1 request with node:http, so the request target and the Host header are exactly what the test says. */
export function rawRequest(url: string, req: RawRequest): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const body = typeof req.body === "string" ? Buffer.from(req.body) : req.body;
    const outgoing = request(
      {
        host: hostname.replace(/^\[|\]$/g, ""),
        port,
        method: req.method,
        path: req.path,
        headers: { ...(body ? { "content-length": String(body.length) } : {}), connection: "close", ...req.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: RawResponse["json"];
          try {
            json = JSON.parse(text) as RawResponse["json"];
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}
