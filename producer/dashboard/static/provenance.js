// A provenance record (GET /v1/artifacts/{digest}/provenance) and content credentials, readable.
import { api, fetchBlob } from "./api.js";
import { formatBytes, formatDuration, formatTime, h } from "./dom.js";

const SOURCE_TYPES = {
  trainedAlgorithmicMedia: "AI-generated (trained algorithmic media)",
  compositeWithTrainedAlgorithmicMedia: "composite including AI-generated media",
  algorithmicMedia: "algorithmic media",
};

export async function renderProvenance(panel, { job, stage, output }) {
  panel.replaceChildren(h("p", { class: "hint" }, "Loading provenance…"));
  let record;
  try {
    record = await api(`/v1/artifacts/${output.digest}/provenance`);
  } catch (error) {
    panel.replaceChildren(h("p", { class: "error" }, `No provenance: ${error.message}`));
    return;
  }
  const manifest = manifestOutput(job, stage);
  panel.replaceChildren(h(
    "section",
    { class: "panel", id: "provenance-record", "aria-labelledby": "provenance-title" },
    h("h3", { id: "provenance-title" }, `Provenance of ${stage.name}.${output.port}`),
    facts([
      ["Artifact", h("span", { class: "mono" }, record.artifact_digest)],
      ["Type", `${record.media_type}, ${formatBytes(record.size_bytes)}`],
      ["Stage", `${record.stage} (${record.stage_kind})`],
      ["Made", `${formatTime(record.started_at)}, in ${formatDuration(record.duration_s)}`],
      ["Worker", `${record.worker_host}, Python ${record.python_version}, mediaq ${record.mediaq_version}`],
      ["Item", `${record.custom_id} (job ${record.job_id})`],
      ["Record digest", h("span", { class: "mono" }, record.record_digest)],
    ]),
    h("h4", {}, "Engine"),
    engineFacts(record.engine),
    h("h4", {}, "Parameters"),
    keyValues(record.parameters, "No parameters (the stage's defaults)."),
    record.seed === null || record.seed === undefined ? null : facts([["Seed", `${record.seed}`]]),
    h("h4", {}, "Inputs"),
    inputs(record.input_digests),
    facts([["Cache key", h("span", { class: "mono" }, record.cache_key)]]),
    manifest ? h("div", { id: "credentials" }, h("p", { class: "hint" }, "Loading content credentials…")) : null,
    h("details", {}, h("summary", {}, "Raw record (JSON)"), h("pre", {}, JSON.stringify(record, null, 2))),
  ));
  if (manifest) await renderCredentials(panel.querySelector("#credentials"), manifest);
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

function engineFacts(engine) {
  const libraries = Object.entries(engine.library_versions || {}).map(([n, v]) => `${n} ${v}`);
  const runtime = Object.entries(engine.runtime || {}).map(([n, v]) => `${n}: ${v}`);
  return facts([
    ["Name", h("span", { id: "provenance-engine" }, engine.name)],
    ["Version", engine.version],
    ["Device", engine.device],
    ["Model", engine.model_id || "— (no model)"],
    ["Weights digest", engine.weights_digest ? h("span", { class: "mono" }, engine.weights_digest) : "—"],
    ["Libraries", libraries.join(", ") || "—"],
    ["Runtime", runtime.join(", ") || "—"],
  ]);
}

function keyValues(object, empty) {
  const entries = Object.entries(object || {});
  if (entries.length === 0) return h("p", { class: "hint" }, empty);
  return facts(entries.map(([name, value]) => [name, typeof value === "string" ? value : JSON.stringify(value)]));
}

function inputs(digests) {
  const entries = Object.entries(digests || {});
  if (entries.length === 0) return h("p", { class: "hint" }, "No inputs: made from the item itself.");
  return facts(entries.map(([port, list]) => [port, h("span", { class: "mono" }, list.join(", "))]));
}

// the C2PA manifest the credentials stage read back from the signed file, if this is one
function manifestOutput(job, stage) {
  if (stage.kind !== "credentials") return null;
  return stage.outputs.find((o) => o.port === "manifest") || null;
}

async function renderCredentials(box, output) {
  let store;
  try {
    store = JSON.parse(await (await fetchBlob(output.url)).text());
  } catch (error) {
    box.replaceChildren(h("p", { class: "error" }, `Cannot read the credentials: ${error.message}`));
    return;
  }
  const active = (store.manifests || {})[store.active_manifest] || {};
  const generator = (active.claim_generator_info || []).map((g) => `${g.name} ${g.version || ""}`.trim());
  const actions = (active.assertions || [])
    .filter((a) => a.label && a.label.startsWith("c2pa.actions"))
    .flatMap((a) => (a.data && a.data.actions) || []);
  const signature = active.signature_info || {};
  const problems = (store.validation_status || []).map((s) => `${s.code}: ${s.explanation || ""}`);
  box.replaceChildren(
    h("h4", {}, "Content credentials (C2PA)"),
    facts([
      ["Title", active.title || "—"],
      ["Made with", generator.join(", ") || "—"],
      ["Actions", actions.map(describeAction).join("; ") || "—"],
      ["Signed by", [signature.common_name, signature.issuer].filter(Boolean).join(", ") || "—"],
      ["Algorithm", signature.alg || "—"],
      ["Validation", problems.length ? problems.join("; ") : "valid, no warnings"],
      ["Manifest", h("span", { class: "mono" }, store.active_manifest || "—")],
    ]),
  );
}

function describeAction(action) {
  const source = (action.digitalSourceType || "").split("/").pop();
  const agent = action.softwareAgent && action.softwareAgent.name;
  return [action.action, SOURCE_TYPES[source] || source, agent && `by ${agent}`]
    .filter(Boolean).join(", ");
}
