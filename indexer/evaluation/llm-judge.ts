/**
 * Port for LLM-judged answer metrics (ragas' faithfulness and answer
 * relevancy), to be added later behind this interface. Nothing implements it
 * yet and no evaluation calls a network judge: retrieval metrics (metrics.ts)
 * and the non-LLM context metrics (ragas.ts) need none.
 *
 * Left out on purpose: prompts, model choice and retries belong to an adapter
 * (`indexer/evaluation/judges/<provider>.ts`, made by a factory), which owns
 * its client, as the embedder and vector-index adapters do.
 */

export interface JudgedAnswer {
  question: string;
  /** The generated answer being judged. */
  answer: string;
  /** The retrieved texts the answer was generated from, in rank order. */
  contexts: readonly string[];
}

export interface JudgeVerdict {
  /** Score in [0, 1]; NaN when the judge could not decide (ragas' convention). */
  value: number;
  /** The judge's short reason, for the report's per-question rows. */
  reason?: string;
}

export interface LlmJudge {
  /** Share of the answer's claims the contexts support (ragas Faithfulness). */
  faithfulness(input: JudgedAnswer, signal?: AbortSignal): Promise<JudgeVerdict>;
  /** How directly the answer addresses the question (ragas AnswerRelevancy). */
  answerRelevancy(input: Omit<JudgedAnswer, "contexts">, signal?: AbortSignal): Promise<JudgeVerdict>;
}
