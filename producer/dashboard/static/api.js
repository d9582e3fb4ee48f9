// The JSON API with the signed-in key: fetch helpers, problem errors, authenticated blobs.
const KEY = "mediaq.apiKey";

export function getKey() {
  return sessionStorage.getItem(KEY);
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY);
}

export function authHeaders() {
  const key = getKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// the app listens for this and signs out: the key was revoked or never valid
function reportUnauthorized() {
  window.dispatchEvent(new CustomEvent("mediaq:unauthorized"));
}

async function readProblem(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

export async function api(path, { method = "GET", signal, key } = {}) {
  const headers = { Accept: "application/json", ...authHeaders() };
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, { method, headers, signal, cache: "no-store" });
  if (!response.ok) {
    const problem = await readProblem(response);
    if (response.status === 401 && !key) reportUnauthorized();
    throw new ApiError(response.status, problem);
  }
  return response.json();
}

// Artifacts need the Authorization header, which <video src> cannot send: fetch the bytes and
// hand the element an object URL instead (the key never appears in a URL).
export async function fetchBlob(path, { signal } = {}) {
  const response = await fetch(path, { headers: authHeaders(), signal, cache: "no-store" });
  if (!response.ok) {
    if (response.status === 401) reportUnauthorized();
    throw new ApiError(response.status, await readProblem(response));
  }
  return response.blob();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
