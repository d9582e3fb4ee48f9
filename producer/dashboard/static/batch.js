// One batch: its progress, a filterable job table, cancel and retry; live.
import { actionButton, announcer } from "./actions.js";
import { api, ApiError, query } from "./api.js";
import { countList, progressBar } from "./batches.js";
import {
  between, cell, coalesce, formatDuration, formatTime, h, shortId, stateBadge,
} from "./dom.js";
import { follow } from "./live.js";
import { batchState, currentStage, isFinished, JOB_STATES, RETRYABLE } from "./status.js";

const PAGE = 100;

export function renderBatch(view, batchId) {
  const path = `/v1/batches/${encodeURIComponent(batchId)}`;
  const filters = { state: "", custom_id: "", jobs_offset: 0 };
  const summary = h("div", { id: "batch-summary" });
  const body = h("tbody");
  const pager = h("div", { class: "actions" });
  const stateSelect = h(
    "select",
    { id: "job-state-filter" },
    h("option", { value: "" }, "any state"),
    JOB_STATES.map((state) => h("option", { value: state }, state)),
  );
  const search = h("input", {
    id: "job-search", type: "search", placeholder: "custom_id contains…", autocomplete: "off",
  });

  view.replaceChildren(
    h("p", {}, h("a", { href: "#/" }, "← Batches")),
    h("h1", {}, "Batch ", h("span", { class: "mono" }, batchId)),
    announcer(),
    summary,
    h("h2", {}, "Jobs"),
    h(
      "div",
      { class: "toolbar", role: "search" },
      h("label", { for: "job-state-filter" }, "State", stateSelect),
      h("label", { for: "job-search" }, "Search custom_id", search),
    ),
    h(
      "table",
      { class: "rows", id: "jobs" },
      h("thead", {}, h("tr", {}, ...["custom_id", "State", "Stage", "Duration", "Error", "Actions"]
        .map((name) => h("th", { scope: "col" }, name)))),
      body,
    ),
    h("p", { class: "hint", id: "jobs-empty", hidden: true }, "No job matches."),
    pager,
  );

  function renderSummary(batch) {
    const state = batchState(batch);
    const retryable = RETRYABLE.reduce((sum, s) => sum + (batch.counts[s] || 0), 0);
    summary.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "State"), h("dd", { id: "batch-state" }, stateBadge(state)),
        h("dt", {}, "Progress"), h("dd", {}, progressBar(batch)),
        h("dt", {}, "Jobs"), h("dd", {}, `${batch.item_count}`, countList(batch)),
        h("dt", {}, "Template"), h("dd", {}, batch.template),
        h("dt", {}, "Priority"), h("dd", {}, `${batch.priority}`),
        h("dt", {}, "Created"), h("dd", {}, formatTime(batch.created_at)),
        h("dt", {}, "Completed"), h("dd", {}, formatTime(batch.completed_at)),
      ),
      h(
        "div",
        { class: "actions" },
        batch.completed_at ? null : actionButton("Cancel batch", {
          path: `${path}/cancel`, danger: true, onDone: refreshAll,
          confirmText: "Cancel every unfinished job of this batch?",
        }),
        retryable ? actionButton(`Retry ${retryable} failed/canceled job(s)`, {
          path: `${path}/retry`, onDone: refreshAll,
        }) : null,
      ),
    );
  }

  function jobRow(job) {
    const duration = between(job.started_at, job.finished_at);
    return h(
      "tr",
      { dataset: { jobId: job.id, state: job.state } },
      cell("custom_id", h("a", { href: `#/jobs/${job.id}` }, job.custom_id)),
      cell("State", stateBadge(job.state)),
      cell("Stage", job.stage || "—"),
      cell("Duration", formatDuration(duration)),
      cell("Error", job.error_class || "—"),
      cell("Actions", h("div", { class: "actions" }, jobActions(job))),
    );
  }

  function jobActions(job) {
    const jobPath = `/v1/jobs/${encodeURIComponent(job.id)}`;
    if (!isFinished(job.state)) {
      return actionButton("Cancel", {
        path: `${jobPath}/cancel`, danger: true, onDone: () => refreshJob(job.id),
      });
    }
    if (RETRYABLE.includes(job.state)) {
      return actionButton("Retry", { path: `${jobPath}/retry`, onDone: () => refreshJob(job.id) });
    }
    return null;
  }

  function renderJobs(batch) {
    body.replaceChildren(...batch.jobs.map(jobRow));
    view.querySelector("#jobs-empty").hidden = batch.jobs.length > 0;
    const total = filters.state || filters.custom_id ? null : batch.item_count;
    const hasNext = batch.jobs.length === PAGE
      && (total === null || filters.jobs_offset + PAGE < total);
    pager.replaceChildren(...[
      filters.jobs_offset > 0
        ? h("button", { type: "button", onclick: () => page(-PAGE) }, "Previous") : null,
      hasNext ? h("button", { type: "button", onclick: () => page(PAGE) }, "Next") : null,
      h("span", { class: "hint" }, batch.jobs.length
        ? `Jobs ${filters.jobs_offset + 1}–${filters.jobs_offset + batch.jobs.length}` : ""),
    ].filter(Boolean));
  }

  const refreshAll = coalesce(async () => {
    let batch;
    try {
      batch = await api(path + query({ ...filters, jobs_limit: PAGE }));
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        summary.replaceChildren(h("p", { class: "error", role: "alert" },
          "No such batch for this API key."));
        return;
      }
      throw error;
    }
    renderSummary(batch);
    renderJobs(batch);
  });
  const refreshSummary = coalesce(async () => {
    renderSummary(await api(`${path}?jobs_limit=0`));
  });
  const jobRefreshers = new Map();
  function refreshJob(jobId) {
    if (!jobRefreshers.has(jobId)) {
      jobRefreshers.set(jobId, coalesce(async () => {
        const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
        const old = body.querySelector(`tr[data-job-id="${CSS.escape(jobId)}"]`);
        if (old) old.replaceWith(jobRow({ ...job, ...currentStage(job) }));
        refreshSummary();
      }));
    }
    return jobRefreshers.get(jobId)();
  }

  function page(step) {
    filters.jobs_offset = Math.max(0, filters.jobs_offset + step);
    refreshAll();
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      filters.custom_id = search.value.trim();
      filters.jobs_offset = 0;
      refreshAll();
    }, 250);
  });
  stateSelect.addEventListener("change", () => {
    filters.state = stateSelect.value;
    filters.jobs_offset = 0;
    refreshAll();
  });

  refreshAll();
  return follow({ batch_id: batchId }, {
    refresh: refreshAll,
    onEvent(event) {
      const jobId = (event.data || {}).job_id;
      if (event.type.startsWith("job.")) {
        // a job on another page or outside the filter costs no request
        if (jobId && body.querySelector(`tr[data-job-id="${CSS.escape(jobId)}"]`)) {
          refreshJob(jobId);
        }
      } else if (event.type.startsWith("batch.")) {
        refreshSummary();
      }
    },
  });
}
