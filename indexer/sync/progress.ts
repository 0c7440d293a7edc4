/** What a document job reports while it runs: its stage and a rough percentage, for GET /v1/jobs/:id and the CLI's progress bars. */
export interface JobProgress {
  stage: "queued" | "parsing" | "chunking" | "embedding" | "indexing" | "done";
  percent: number;
  detail?: string;
}
