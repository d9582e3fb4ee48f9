// The dashboard's entry: sign-in, a hash router (#/, #/batches/<id>, #/jobs/<id>), sign-out.
import { api, ApiError, clearKey, getKey, setKey } from "./api.js";
import { renderBatch } from "./batch.js";
import { renderBatches } from "./batches.js";
import { h } from "./dom.js";
import { renderJob } from "./job.js";

const signIn = document.getElementById("sign-in");
const form = document.getElementById("sign-in-form");
const keyInput = document.getElementById("api-key");
const signInError = document.getElementById("sign-in-error");
const nav = document.getElementById("nav");
const view = document.getElementById("view");
let leave = null; // stops the current view's live updates and frees its media

function showSignIn(message) {
  if (leave) leave();
  leave = null;
  view.replaceChildren();
  view.hidden = true;
  nav.hidden = true;
  signIn.hidden = false;
  signInError.textContent = message || "";
  signInError.hidden = !message;
  keyInput.value = "";
  keyInput.focus();
}

function route() {
  if (!getKey()) return showSignIn();
  signIn.hidden = true;
  nav.hidden = false;
  view.hidden = false;
  if (leave) leave();
  const [, kind, id] = (location.hash.replace(/^#/, "") || "/").split("/");
  const decoded = id ? decodeURIComponent(id) : "";
  if (kind === "batches" && decoded) leave = renderBatch(view, decoded);
  else if (kind === "jobs" && decoded) leave = renderJob(view, decoded);
  else if (!kind) leave = renderBatches(view);
  else {
    leave = null;
    view.replaceChildren(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/" }, "Batches")));
  }
  window.scrollTo(0, 0);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (!key) return showSignIn("Paste an API key first.");
  try {
    // any read proves the key: it is unknown, revoked or lacks "read" otherwise
    await api("/v1/batches?limit=1", { key });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return showSignIn("That API key was not accepted: it is unknown or revoked.");
    }
    if (error instanceof ApiError && error.status === 403) {
      return showSignIn("That API key cannot read: it lacks the 'read' scope.");
    }
    return showSignIn(`Cannot reach the API: ${error.message}`);
  }
  setKey(key);
  keyInput.value = "";
  route();
});

document.getElementById("sign-out").addEventListener("click", () => {
  clearKey();
  history.replaceState(null, "", "#/");
  showSignIn();
});

window.addEventListener("mediaq:unauthorized", () => {
  clearKey();
  showSignIn("The API key is no longer accepted. Sign in again.");
});
window.addEventListener("hashchange", route);
route();
