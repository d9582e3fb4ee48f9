// Cancel and retry buttons: POST, then report the outcome in words.
import { api } from "./api.js";
import { h } from "./dom.js";

export function actionButton(label, { path, confirmText, onDone, danger = false }) {
  const button = h("button", { type: "button", class: danger ? "danger" : null }, label);
  button.addEventListener("click", async () => {
    if (confirmText && !window.confirm(confirmText)) return;
    button.disabled = true;
    try {
      const result = await api(path, { method: "POST" });
      announce(describe(result));
      await onDone(result);
    } catch (error) {
      announce(`${label} failed: ${error.message}`, { isError: true });
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function describe(result) {
  if ("canceled_jobs" in result) {
    return `Canceled ${result.canceled_jobs} job(s), ${result.canceled_stages} stage(s).`;
  }
  return `Retrying ${result.retried_jobs} job(s), ${result.retried_stages} stage(s).`;
}

export function announce(text, { isError = false } = {}) {
  const box = document.getElementById("announce");
  if (!box) return;
  box.textContent = text;
  box.className = isError ? "notice error" : "notice";
  box.hidden = false;
}

export function announcer() {
  return h("p", { id: "announce", class: "notice", role: "status", hidden: true });
}
