/** What a document job reports while it runs: its stage and a rough percentage, for GET /v1/jobs/:id and the CLI's progress bars. */
export interface JobProgress {
  /** index-operation: waiting on a long-running operation of the index's provider (a Vertex deploy); `detail` names it. */
  stage: "queued" | "parsing" | "chunking" | "embedding" | "indexing" | "index-operation" | "done";
  percent: number;
  detail?: string;
}
