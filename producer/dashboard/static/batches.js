// The batches list: progress bars and counts per state, live.
import { api, query } from "./api.js";
import { cell, coalesce, formatTime, h, shortId, stateBadge } from "./dom.js";
import { follow } from "./live.js";
import { batchState, JOB_STATES } from "./status.js";

const PAGE = 50;

export function progressBar(batch) {
  const percent = Math.round(batch.percent_done);
  return h(
    "div",
    { class: "progress" },
    h("progress", { max: 100, value: batch.percent_done, "aria-label": "Progress" }),
    h("span", { class: "percent" }, `${percent}%`),
  );
}

export function countList(batch) {
  return h(
    "ul",
    { class: "counts", "aria-label": "Jobs per state" },
    JOB_STATES.filter((state) => batch.counts[state]).map((state) =>
      h("li", { dataset: { state } }, h("b", {}, batch.counts[state]), ` ${state}`),
    ),
  );
}

function batchRow(batch) {
  return h(
    "tr",
    { dataset: { batchId: batch.id } },
    cell("Batch", h("a", { href: `#/batches/${batch.id}`, class: "mono" }, shortId(batch.id))),
    cell("Template", batch.template),
    cell("Created", formatTime(batch.created_at)),
    cell("State", stateBadge(batchState(batch))),
    cell("Progress", progressBar(batch)),
    cell("Jobs", `${batch.item_count}`),
    cell("Per state", countList(batch)),
  );
}

export function renderBatches(view) {
  const body = h("tbody");
  const more = h("button", { type: "button", hidden: true }, "Load older batches");
  let cursor = null;
  view.replaceChildren(
    h("h1", {}, "Batches"),
    h(
      "table",
      { class: "rows", id: "batches" },
      h(
        "thead",
        {},
        h("tr", {}, ...["Batch", "Template", "Created", "State", "Progress", "Jobs", "Per state"]
          .map((name) => h("th", { scope: "col" }, name))),
      ),
      body,
    ),
    h("p", { class: "hint", id: "batches-empty", hidden: true },
      "No batches yet. Submit one with POST /v1/batches or `mediaq submit`."),
    more,
  );

  function rowOf(batchId) {
    return body.querySelector(`tr[data-batch-id="${CSS.escape(batchId)}"]`);
  }

  function upsert(batch, { atTop }) {
    const row = batchRow(batch);
    const old = rowOf(batch.id);
    if (old) old.replaceWith(row);
    else if (atTop) body.prepend(row);
    else body.append(row);
    view.querySelector("#batches-empty").hidden = true;
  }

  // the first page again: new batches go on top, known ones are updated in place
  const refreshList = coalesce(async () => {
    const limit = Math.min(200, Math.max(PAGE, body.rows.length));
    const page = await api(`/v1/batches${query({ limit })}`);
    for (const batch of [...page.batches].reverse()) upsert(batch, { atTop: true });
    if (body.rows.length <= page.batches.length) {
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    view.querySelector("#batches-empty").hidden = body.rows.length > 0;
  });
  const refreshers = new Map();
  function refreshBatch(batchId) {
    if (!refreshers.has(batchId)) {
      refreshers.set(batchId, coalesce(async () => {
        upsert(await api(`/v1/batches/${encodeURIComponent(batchId)}?jobs_limit=0`), {
          atTop: true,
        });
      }));
    }
    refreshers.get(batchId)();
  }

  more.addEventListener("click", async () => {
    const page = await api(`/v1/batches${query({ limit: PAGE, cursor })}`);
    for (const batch of page.batches) upsert(batch, { atTop: false });
    cursor = page.next_cursor;
    more.hidden = !cursor;
  });

  refreshList();
  return follow({}, {
    refresh: refreshList,
    onEvent(event) {
      const batchId = event.data && event.data.batch_id;
      if (event.type === "batch.created") refreshList();
      // job.updated is too fine-grained for this page: batch.updated carries its effect
      else if (batchId && event.type !== "job.updated" && rowOf(batchId)) refreshBatch(batchId);
    },
  });
}
