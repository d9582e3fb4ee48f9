// One job: stage timeline, the finished media with captions, outputs, provenance; live.
import { actionButton, announcer } from "./actions.js";
import { api, ApiError, fetchBlob } from "./api.js";
import {
  between, coalesce, formatBytes, formatDuration, formatTime, h, shortId, stateBadge,
} from "./dom.js";
import { follow } from "./live.js";
import { renderProvenance } from "./provenance.js";
import { currentStage, isFinished, RETRYABLE } from "./status.js";

const EXTENSIONS = {
  "video/mp4": "mp4", "audio/wav": "wav", "image/jpeg": "jpg", "image/png": "png",
  "text/vtt": "vtt", "application/x-subrip": "srt", "application/json": "json",
};

export function renderJob(view, jobId) {
  const path = `/v1/jobs/${encodeURIComponent(jobId)}`;
  const media = new MediaPanel();
  const header = h("div", { id: "job-summary" });
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const outputs = h("div", { id: "outputs" });
  const provenance = h("div", { id: "provenance" });
  let job = null;

  view.replaceChildren(
    h("p", { id: "job-back" }),
    h("h1", { id: "job-title" }, "Job"),
    announcer(),
    header,
    media.element,
    h("h2", {}, "Stages"),
    timeline,
    h("h2", {}, "Outputs"),
    outputs,
    provenance,
  );

  function render() {
    const { stage, error_class: errorClass } = currentStage(job);
    view.querySelector("#job-back").replaceChildren(
      h("a", { href: `#/batches/${job.batch_id}` }, "← Batch ", shortId(job.batch_id)),
    );
    view.querySelector("#job-title").replaceChildren("Job ", job.custom_id);
    header.replaceChildren(
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "State"), h("dd", { id: "job-state" }, stateBadge(job.state)),
        h("dt", {}, "Stage"), h("dd", {}, stage || "—"),
        errorClass ? [h("dt", {}, "Error class"), h("dd", {}, errorClass)] : null,
        h("dt", {}, "Job id"), h("dd", { class: "mono" }, job.id),
        h("dt", {}, "Created"), h("dd", {}, formatTime(job.created_at)),
        h("dt", {}, "Started"), h("dd", {}, formatTime(job.started_at)),
        h("dt", {}, "Finished"), h("dd", {}, formatTime(job.finished_at)),
        h("dt", {}, "Duration"),
        h("dd", {}, formatDuration(between(job.started_at, job.finished_at))),
      ),
      h("div", { class: "actions" }, actions()),
    );
    timeline.replaceChildren(...job.stages.map((s) => stageItem(s, span())));
    renderOutputs();
    media.show(job);
  }

  function actions() {
    if (!isFinished(job.state)) {
      return actionButton("Cancel job", {
        path: `${path}/cancel`, danger: true, onDone: refresh,
      });
    }
    if (RETRYABLE.includes(job.state)) {
      return actionButton("Retry job", { path: `${path}/retry`, onDone: refresh });
    }
    return null;
  }

  function span() {
    const times = job.stages.flatMap((s) => [s.queued_at, s.started_at, s.finished_at])
      .filter(Boolean).map((t) => new Date(t).getTime());
    const start = new Date(job.created_at).getTime();
    const now = isFinished(job.state) ? [] : [Date.now()];
    const end = Math.max(start + 1, ...now, ...times);
    return { start, length: end - start };
  }

  function renderOutputs() {
    const rows = job.stages.flatMap((s) => s.outputs.map((o) => ({ stage: s, output: o })));
    if (rows.length === 0) {
      outputs.replaceChildren(h("p", { class: "hint" }, "No outputs yet."));
      return;
    }
    outputs.replaceChildren(h(
      "table",
      { class: "rows", id: "outputs-table" },
      h("thead", {}, h("tr", {}, ...["Stage", "Output", "Type", "Size", "Digest", ""]
        .map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows.map(({ stage, output }) => h(
        "tr",
        { dataset: { digest: output.digest } },
        h("td", { "data-label": "Stage" }, stage.name),
        h("td", { "data-label": "Output" }, output.port),
        h("td", { "data-label": "Type" }, output.media_type),
        h("td", { "data-label": "Size", class: "num" }, formatBytes(output.size_bytes)),
        h("td", { "data-label": "Digest", class: "mono" }, output.digest.slice(0, 12)),
        h("td", { "data-label": "" }, h("div", { class: "actions" },
          h("button", { type: "button", onclick: () => download(stage, output) }, "Download"),
          h("button", {
            type: "button",
            onclick: () => renderProvenance(provenance, { job, stage, output }),
          }, "Provenance"),
        )),
      ))),
    ));
  }

  async function download(stage, output) {
    const blob = await fetchBlob(output.url);
    const url = URL.createObjectURL(blob);
    const ext = EXTENSIONS[output.media_type] || "bin";
    const link = h("a", { href: url, download: `${job.custom_id}-${stage.name}-${output.port}.${ext}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  const refresh = coalesce(async () => {
    try {
      job = await api(path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        header.replaceChildren(h("p", { class: "error", role: "alert" },
          "No such job for this API key."));
        return;
      }
      throw error;
    }
    render();
  });

  refresh();
  const stop = follow({ job_id: jobId }, {
    refresh,
    onEvent(event) {
      if (event.type.startsWith("job.")) refresh();
    },
  });
  return () => {
    stop();
    media.dispose();
  };
}

function stageItem(stage, span) {
  const wait = between(stage.queued_at, stage.started_at);
  const ran = stage.duration_s ?? (stage.state === "running" ? between(stage.started_at) : null);
  return h(
    "li",
    { dataset: { stage: stage.name, state: stage.state } },
    h(
      "div",
      { class: "stage-head" },
      h("strong", {}, stage.name),
      stateBadge(stage.state),
      stage.is_cache_hit ? h("span", { class: "state state-succeeded" }, "cache hit") : null,
    ),
    h(
      "div",
      { class: "stage-meta" },
      h("span", {}, `engine ${stage.engine}${stage.engine_version ? ` ${stage.engine_version}` : ""}`),
      h("span", {}, `attempts ${stage.attempts} of ${stage.max_attempts}`),
      h("span", {}, `queued ${formatTime(stage.queued_at)}`),
      h("span", {}, `waited ${formatDuration(wait)}`),
      h("span", {}, `ran ${formatDuration(ran)}`),
    ),
    gantt(stage, span),
    stage.error ? h("p", { class: "stage-error" }, `${stage.error_class}: ${stage.error}`) : null,
  );
}

// where the stage sat in the job's time: waiting (grey) then running (blue); positioned through
// the CSSOM, which the Content-Security-Policy allows where style attributes are refused
function gantt(stage, span) {
  const bar = h("div", { class: "gantt", "aria-hidden": "true" });
  const at = (iso) => ((new Date(iso).getTime() - span.start) / span.length) * 100;
  const now = new Date().toISOString();
  const piece = (className, from, to) => {
    const node = h("span", { class: className });
    node.style.left = `${at(from)}%`;
    node.style.width = `${Math.max(0, at(to) - at(from))}%`;
    bar.append(node);
  };
  if (stage.queued_at) {
    piece("wait", stage.queued_at, stage.started_at || (stage.state === "queued" ? now : stage.queued_at));
  }
  if (stage.started_at) piece("run", stage.started_at, stage.finished_at || now);
  return bar;
}

// The finished media: the credentialed video (else any video, else audio) with its captions.
class MediaPanel {
  constructor() {
    this.element = h("section", { class: "player", id: "player", hidden: true });
    this.urls = [];
    this.shown = null;
    this.controller = new AbortController();
  }

  show(job) {
    const outputs = job.stages.flatMap((s) => s.outputs.map((o) => ({ ...o, stage: s })));
    const video = pick(outputs, "video/mp4");
    const audio = video ? null : pick(outputs, "audio/wav");
    const main = video || audio;
    const captions = outputs.find((o) => o.media_type === "text/vtt");
    const poster = outputs.filter((o) => o.media_type.startsWith("image/")).pop();
    const key = [main, captions, poster].map((o) => o && o.digest).join("|");
    if (!main || key === this.shown) return;
    this.shown = key;
    this.load({ main, isVideo: Boolean(video), captions, poster, job }).catch((error) => {
      this.element.replaceChildren(h("p", { class: "error" }, `Cannot load the media: ${error.message}`));
    });
  }

  async load({ main, isVideo, captions, poster, job }) {
    const signal = this.controller.signal;
    const [mainUrl, captionsUrl, posterUrl] = await Promise.all(
      [main, captions, isVideo ? poster : null].map(async (o) =>
        o ? this.objectUrl(await fetchBlob(o.url, { signal })) : null),
    );
    const player = isVideo
      ? h("video", { id: "video", controls: true, preload: "metadata", src: mainUrl, poster: posterUrl, playsinline: true },
        captionsUrl ? h("track", {
          kind: "captions", src: captionsUrl, label: "Captions", default: true,
        }) : null)
      : h("audio", { id: "audio", controls: true, preload: "metadata", src: mainUrl });
    this.element.replaceChildren(
      h("h2", {}, isVideo ? "Video" : "Audio"),
      player,
      h("p", { class: "hint" }, `${main.stage.name}.${main.port}, ${formatBytes(main.size_bytes)}`,
        main.duration_s ? `, ${formatDuration(main.duration_s)}` : "",
        captionsUrl ? ", with captions" : ""),
    );
    this.element.hidden = false;
  }

  objectUrl(blob) {
    const url = URL.createObjectURL(blob);
    this.urls.push(url);
    return url;
  }

  dispose() {
    this.controller.abort();
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
  }
}

// the last stage's file of that type: the credentialed copy comes after the composed one
function pick(outputs, mediaType) {
  return outputs.filter((o) => o.media_type === mediaType).pop() || null;
}
