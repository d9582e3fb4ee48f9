// Derived states and counts shown in several views.
export const JOB_STATES = ["queued", "running", "succeeded", "failed", "canceled", "expired"];
const FINISHED = ["succeeded", "failed", "canceled", "expired"];
export const RETRYABLE = ["failed", "canceled", "expired"];

export function isFinished(state) {
  return FINISHED.includes(state);
}

/** A batch's state in one word, from its counts and stamps. */
export function batchState(batch) {
  const counts = batch.counts;
  const done = FINISHED.reduce((sum, state) => sum + (counts[state] || 0), 0);
  if (done >= batch.item_count) {
    if ((counts.succeeded || 0) === batch.item_count) return "succeeded";
    if (batch.canceled_at) return "canceled";
    return (counts.succeeded || 0) === 0 ? "failed" : "completed with failures";
  }
  if (batch.canceled_at) return "canceling";
  return done > 0 || counts.running > 0 ? "running" : "queued";
}

/** The stage a job is at, as the API's job tables report it (producer/job_progress.py). */
export function currentStage(job) {
  const rank = { running: 0, queued: 1, failed: 2, canceled: 3, pending: 4 };
  const open = job.stages.filter((stage) => stage.state !== "succeeded");
  if (open.length === 0) return { stage: null, error_class: null };
  const key = (s) => [rank[s.state], s.started_at ? 0 : 1, s.started_at || "", s.name];
  open.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    for (let i = 0; i < x.length; i += 1) {
      if (x[i] < y[i]) return -1;
      if (x[i] > y[i]) return 1;
    }
    return 0;
  });
  const at = open[0];
  const failed = job.stages.find((stage) => stage.state === "failed");
  return { stage: at.name, error_class: (failed || at).error_class };
}
