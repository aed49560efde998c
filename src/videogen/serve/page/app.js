// videogen studio: a page over the server's own JSON API (docs/serve.md, "The page"). No build step, no
// libraries, no request to any other origin. The token (when the server has one) is kept in localStorage and
// sent as a bearer header by fetch; the events stream is read with fetch too, and videos are fetched as blobs,
// so every request carries it.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "videogen.token";
const POLL_MS = 1500;
const MAX_STREAMS = 2; // a browser keeps ~6 connections per server: leave room for the rest
const ERROR_SLOT = {
  width: "size", height: "size", size: "size", num_frames: "num_frames", seconds: "num_frames", fps: "num_frames",
  image: "input_reference", input_reference: "input_reference", task: "input_reference",
  prompt: "prompt", negative_prompt: "negative_prompt", steps: "steps", guidance_scale: "guidance_scale",
  seed: "seed", memory: "memory", cache: "cache", loras: "loras", model: "model",
};
const SLOT_INPUT = {
  size: "f-width", num_frames: "f-frames", input_reference: "f-image", prompt: "f-prompt",
  negative_prompt: "f-negative", steps: "f-steps", guidance_scale: "f-guidance", seed: "f-seed",
  memory: "f-memory", cache: "f-cache", loras: "f-loras", model: "f-model",
};

const state = {
  models: new Map(), // id → card facts (GET /v1/studio/models)
  jobs: new Map(), // id → Video object
  streams: new Map(), // id → AbortController of its events stream
  live: new Map(), // id → {step, total, eta, preview}
  videos: new Map(), // id → blob URL of its mp4
  image: null, // the chosen File
  plans: new Map(), // request key → verdict
  online: null,
};

// ---- the API -------------------------------------------------------------------------------------------------

class Unreachable extends Error {}
class NeedsToken extends Error {}

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  let response;
  try {
    response = await fetch(path, { ...options, headers, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    setOnline(false);
    throw new Unreachable(String(err));
  }
  setOnline(true);
  if (response.status === 401) {
    askToken(localStorage.getItem(TOKEN_KEY) ? "That token was refused; enter the server's token." : "");
    throw new NeedsToken("401");
  }
  return response;
}

async function apiJSON(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new Error((body.error && body.error.message) || `HTTP ${response.status}`);
    err.status = response.status;
    err.param = body.error ? body.error.param : null;
    throw err;
  }
  return body;
}

function setOnline(up) {
  if (state.online === up) return;
  state.online = up;
  $("offline").hidden = up;
  const label = $("server-state");
  label.textContent = up ? "server connected" : "server unreachable";
  label.className = `state ${up ? "ok" : "down"}`;
  if (up && !state.models.size) loadModels();
  else if (up) planSoon(); // a verdict asked for while it was away
}

function askToken(message) {
  $("token-panel").hidden = false;
  $("token-error").textContent = message;
  if (document.activeElement !== $("token")) $("token").focus();
}

// ---- the catalog and the form ------------------------------------------------------------------------------

async function loadModels() {
  let catalog;
  try {
    catalog = await apiJSON("/v1/studio/models");
  } catch (err) {
    return; // the banner or the token panel says why; the poll retries
  }
  const select = $("f-model");
  const keep = select.value || localStorage.getItem("videogen.model");
  select.replaceChildren();
  const families = new Map();
  for (const card of catalog.models) {
    state.models.set(card.id, card);
    if (!families.has(card.family)) families.set(card.family, []);
    families.get(card.family).push(card);
  }
  for (const [family, cards] of families) {
    const group = document.createElement("optgroup");
    group.label = family;
    for (const card of cards) {
      const option = new Option(card.id, card.id);
      option.disabled = card.served_tasks.length === 0;
      group.append(option);
    }
    select.append(group);
  }
  fillChoices($("f-memory"), catalog.memory);
  fillChoices($("f-cache"), catalog.cache);
  if (keep && state.models.has(keep)) select.value = keep;
  modelChanged();
}

function fillChoices(select, values) {
  select.replaceChildren(...values.map((v) => new Option(v, v)));
}

function card() {
  return state.models.get($("f-model").value);
}

function modelChanged() {
  const c = card();
  if (!c) return;
  localStorage.setItem("videogen.model", c.id);
  const rule = c.frame_rule ? `${c.frame_rule[0]}k+${c.frame_rule[1]} frames` : "any frame count";
  const tasks = c.tasks.map((t) => (c.served_tasks.includes(t) ? t : `${t} (not through the server)`));
  $("model-info").textContent =
    `${c.family} · ${tasks.join(", ")} · ${c.width}×${c.height}, ${c.num_frames} frames at ${c.fps} fps` +
    ` (${seconds(c.num_frames, c.fps)} s) · ${rule}, sizes in multiples of ${c.size_multiple}` +
    (c.description ? ` — ${c.description}` : "");
  const takesImage = c.served_tasks.includes("i2v");
  $("image-field").hidden = !takesImage;
  $("image-label").textContent = c.served_tasks.includes("t2v")
    ? "Image (the first frame; optional: without one the model makes the video from the prompt)"
    : "Image (the first frame; this model needs one)";
  $("f-steps").placeholder = c.steps;
  $("f-guidance").placeholder = c.guidance_scale;
  $("f-width").placeholder = c.width;
  $("f-height").placeholder = c.height;
  $("f-frames").placeholder = c.num_frames;
  $("f-seconds").placeholder = seconds(c.num_frames, c.fps);
  sizeHint();
  framesHint();
  clearErrors();
  planSoon();
}

function seconds(frames, fps) {
  return Math.round((frames / fps) * 100) / 100;
}

function nearestFrames(n, c) {
  if (!c.frame_rule) return Math.max(1, c.max_frames ? Math.min(n, c.max_frames) : n);
  const [step, offset] = c.frame_rule;
  let valid = step * Math.max(0, Math.floor((n - offset) / step + 0.5)) + offset;
  if (valid < 1) valid += step;
  if (c.max_frames && valid > c.max_frames) valid = offset + step * Math.floor((c.max_frames - offset) / step);
  return valid;
}

function nearestSize(w, h, c) {
  if (c.sizes.length) {
    let best = c.sizes[0];
    for (const s of c.sizes) if (Math.abs(s[0] - w) + Math.abs(s[1] - h) < Math.abs(best[0] - w) + Math.abs(best[1] - h)) best = s;
    return best;
  }
  const m = c.size_multiple;
  const snap = (v) => Math.max(m, Math.floor(v / m + 0.5) * m);
  return [snap(w), snap(h)];
}

function typedSize(c) {
  const w = parseInt($("f-width").value || c.width, 10);
  const h = parseInt($("f-height").value || c.height, 10);
  return [w, h];
}

function sizeHint() {
  const c = card();
  if (!c) return;
  const [w, h] = typedSize(c);
  const [sw, sh] = nearestSize(w, h, c);
  const rule = c.sizes.length
    ? `this model runs at ${c.sizes.map((s) => s.join("×")).join(", ")}`
    : `multiples of ${c.size_multiple}`;
  $("size-hint").textContent =
    sw === w && sh === h ? rule : `${rule}: ${w}×${h} ${$("f-snap").checked ? "becomes" : "is refused; nearest"} ${sw}×${sh}`;
}

function snapSize() {
  const c = card();
  if (!c || !$("f-snap").checked || (!$("f-width").value && !$("f-height").value)) return sizeHint();
  const [w, h] = nearestSize(...typedSize(c), c);
  $("f-width").value = w;
  $("f-height").value = h;
  sizeHint();
  planSoon();
}

function framesHint() {
  const c = card();
  if (!c) return;
  const n = parseInt($("f-frames").value, 10);
  if (!n) return ($("frames-hint").textContent = "");
  const valid = nearestFrames(n, c);
  $("frames-hint").textContent =
    valid === n ? `${seconds(n, c.fps)} s at ${c.fps} fps` : `${n} frames: ${$("f-snap").checked ? "becomes" : "is refused; nearest"} ${valid}`;
}

function snapFrames() {
  const c = card();
  const n = parseInt($("f-frames").value, 10);
  if (c && n && $("f-snap").checked) $("f-frames").value = nearestFrames(n, c);
  if (c && $("f-frames").value) $("f-seconds").value = seconds(parseInt($("f-frames").value, 10), c.fps);
  else $("f-seconds").value = "";
  framesHint();
  planSoon();
}

function secondsTyped() {
  const c = card();
  const s = parseFloat($("f-seconds").value);
  if (!c || !(s > 0)) return;
  const n = Math.max(1, Math.round(s * c.fps));
  $("f-frames").value = $("f-snap").checked ? nearestFrames(n, c) : n;
  framesHint();
  planSoon();
}

// the request the form describes: plain fields (what POST /v1/videos takes)
function request() {
  const body = { model: $("f-model").value, prompt: $("f-prompt").value };
  const text = (id, key) => { const v = $(id).value.trim(); if (v) body[key] = v; };
  const int = (id, key) => { const v = $(id).value.trim(); if (v !== "") body[key] = Number.isFinite(+v) ? Math.trunc(+v) : v; };
  const num = (id, key) => { const v = $(id).value.trim(); if (v !== "") body[key] = Number.isFinite(+v) ? +v : v; };
  text("f-negative", "negative_prompt");
  int("f-steps", "steps");
  num("f-guidance", "guidance_scale");
  const seed = $("f-seed").value.trim(); // kept as text: a drawn seed can be beyond a JS number's exact range
  if (seed !== "") body.seed = /^\d+$/.test(seed) ? seed : Number.isFinite(+seed) ? +seed : seed;
  int("f-width", "width");
  int("f-height", "height");
  int("f-frames", "num_frames");
  if ($("f-memory").value && $("f-memory").value !== "auto") body.memory = $("f-memory").value;
  if ($("f-cache").value && $("f-cache").value !== "none") body.cache = $("f-cache").value;
  const loras = $("f-loras").value.split("\n").map((s) => s.trim()).filter(Boolean);
  if (loras.length) body.loras = loras;
  return body;
}

// JSON with the seed's digits as a number (exact, however long)
function asJSON(body) {
  const text = JSON.stringify(body);
  return typeof body.seed === "string" && /^\d+$/.test(body.seed) ? text.replace(`"seed":"${body.seed}"`, `"seed":${body.seed}`) : text;
}

// ---- the planner's verdict ----------------------------------------------------------------------------------

let planTimer = 0;
function planSoon() {
  clearTimeout(planTimer);
  planTimer = setTimeout(showPlan, 350);
}

function gib(bytes) {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.max(1, Math.round(bytes / 2 ** 20))} MiB`;
}

function planKey() {
  const body = request();
  delete body.negative_prompt;
  delete body.seed;
  body.prompt = "plan";
  return JSON.stringify(body);
}

async function showPlan() {
  if (!card()) return;
  const key = planKey();
  const out = $("verdict");
  let verdict = state.plans.get(key);
  if (!verdict) {
    out.textContent = "asking the planner…";
    out.className = "verdict";
    try {
      const report = await apiJSON("/v1/plan", { method: "POST", headers: { "Content-Type": "application/json" }, body: key });
      verdict = describePlan(report);
    } catch (err) {
      if (err instanceof Unreachable || err instanceof NeedsToken) return;
      verdict = { text: `the planner: ${err.message}`, kind: "" };
    }
    state.plans.set(key, verdict);
  }
  if (planKey() !== key) return; // the form changed meanwhile: its own call shows its verdict
  out.textContent = verdict.text;
  out.className = `verdict ${verdict.kind}`;
}

function describePlan(report) {
  const name = report.plan && report.plan.name;
  const preset = (report.presets || []).find((p) => p.name === name) || {};
  const peak = preset.peak_gpu_bytes ? `~${gib(preset.peak_gpu_bytes)} est. peak` : "";
  const where = report.device === "cpu" ? "on this machine's CPU" : `on ${report.device}`;
  if (preset.fits === false || (report.fitting === 0 && report.searched > 0))
    return { text: `won't fit ${where}: ${report.reason || ""}`, kind: "nofit" };
  const head = preset.fits === true ? `fits with ${name}` : `plan: ${name}`;
  return { text: `${head}${peak ? `, ${peak}` : ""} ${where} — ${report.reason || ""}`.trim(), kind: preset.fits === true ? "fits" : "" };
}

// ---- errors beside their fields ------------------------------------------------------------------------------

function clearErrors() {
  for (const el of document.querySelectorAll("#form .field-error")) el.textContent = "";
  for (const el of document.querySelectorAll("#form [aria-invalid]")) el.removeAttribute("aria-invalid");
}

function showError(param, message) {
  const slot = ERROR_SLOT[param] || "form";
  $(`e-${slot}`).textContent = message;
  const input = $(SLOT_INPUT[slot]);
  if (!input) return;
  const details = input.closest("details");
  if (details) details.open = true;
  input.setAttribute("aria-invalid", "true");
  if (slot === "size") $("f-height").setAttribute("aria-invalid", "true");
  input.focus();
}

// ---- submit --------------------------------------------------------------------------------------------------

async function submit(event) {
  if (event) event.preventDefault();
  const button = $("submit");
  if (button.disabled) return;
  clearErrors();
  const body = request();
  if (!body.prompt.trim()) return showError("prompt", "prompt: write what the video shows");
  const c = card();
  if (c && !c.served_tasks.includes("t2v") && !state.image)
    return showError("input_reference", `${c.id} makes a video from an image: drop one here`);
  const headers = { "Idempotency-Key": crypto.randomUUID ? crypto.randomUUID() : String(Math.random()) };
  let payload;
  if (state.image && !$("image-field").hidden) {
    payload = new FormData();
    for (const [key, value] of Object.entries(body)) {
      const raw = key === "model" || key === "prompt" || (key === "seed" && /^\d+$/.test(value));
      payload.append(key, raw ? value : JSON.stringify(value));
    }
    payload.append("input_reference", state.image, state.image.name || "image.png");
  } else {
    headers["Content-Type"] = "application/json";
    payload = asJSON(body);
  }
  button.disabled = true;
  try {
    const video = await apiJSON("/v1/videos", { method: "POST", headers, body: payload });
    state.jobs.set(video.id, video);
    render();
  } catch (err) {
    if (err instanceof Unreachable) showError("form", "The server is not answering; the job was not sent.");
    else if (!(err instanceof NeedsToken)) showError(err.param, err.message);
  } finally {
    button.disabled = false;
  }
}

// ---- the image -----------------------------------------------------------------------------------------------

function setImage(file) {
  if (state.imageURL) URL.revokeObjectURL(state.imageURL);
  state.image = file || null;
  state.imageURL = file ? URL.createObjectURL(file) : null;
  $("image-preview").hidden = !file;
  $("image-clear").hidden = !file;
  if (file) $("image-preview").src = state.imageURL;
  else $("f-image").value = "";
  $("e-input_reference").textContent = "";
}

// ---- jobs: the queue and the gallery -------------------------------------------------------------------------

async function poll() {
  try {
    if (!state.models.size) await loadModels();
    const page = await apiJSON("/v1/videos?limit=60");
    const seen = new Set();
    for (const video of page.data) {
      seen.add(video.id);
      state.jobs.set(video.id, { ...state.jobs.get(video.id), ...video });
    }
    for (const id of [...state.jobs.keys()]) if (!seen.has(id)) forget(id);
    render();
  } catch (err) {
    // the banner (unreachable) or the token panel (401) says why
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function forget(id) {
  state.jobs.delete(id);
  state.live.delete(id);
  const stream = state.streams.get(id);
  if (stream) stream.abort();
  state.streams.delete(id);
  const url = state.videos.get(id);
  if (url && url !== "loading") URL.revokeObjectURL(url);
  state.videos.delete(id);
}

function byNewest(a, b) {
  return b.created_at - a.created_at || (b.id < a.id ? -1 : 1);
}

function render() {
  const jobs = [...state.jobs.values()].sort(byNewest);
  const waiting = jobs.filter((j) => j.status !== "completed").reverse(); // oldest first: the order they run
  const done = jobs.filter((j) => j.status === "completed");
  syncList($("queue"), waiting, queueItem, updateQueueItem);
  syncList($("gallery"), done, galleryItem, () => {});
  $("queue-empty").hidden = waiting.length > 0;
  $("gallery-empty").hidden = done.length > 0;
  // the running job and the next ones: their streams show steps and previews the moment they come
  for (const job of waiting) if (job.status === "in_progress" || job.status === "queued") follow(job.id);
}

function syncList(list, jobs, make, update) {
  const items = new Map([...list.children].map((li) => [li.dataset.id, li]));
  let previous = null;
  for (const job of jobs) {
    let li = items.get(job.id);
    if (!li) li = make(job);
    items.delete(job.id);
    update(li, job);
    const want = previous ? previous.nextSibling : list.firstChild;
    if (li !== want) list.insertBefore(li, want);
    previous = li;
  }
  for (const li of items.values()) li.remove();
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function queueItem(job) {
  const li = el("li", { className: "job" });
  li.dataset.id = job.id;
  const preview = el("img", { className: "preview", alt: `preview of ${job.prompt || job.id}` });
  preview.hidden = true;
  const placeholder = el("div", { className: "preview", ariaHidden: "true" });
  const cancel = el("button", { type: "button", className: "cancel", textContent: "Cancel" });
  cancel.setAttribute("aria-label", `Cancel ${job.prompt || job.id}`);
  cancel.addEventListener("click", () => cancelJob(job.id, cancel));
  const bar = el("progress", { max: 100, value: 0 });
  bar.setAttribute("aria-label", `progress of ${job.prompt || job.id}`);
  li.append(
    el("div", {}, preview, placeholder),
    el("div", { className: "what" },
      el("p", { className: "prompt", textContent: job.prompt || "(no prompt)" }),
      el("p", { className: "status" }), // not a live region: a screen reader would read every step
      bar),
    cancel);
  return li;
}

function updateQueueItem(li, job) {
  const live = state.live.get(job.id) || {};
  const status = li.querySelector(".status");
  const bar = li.querySelector("progress");
  const cancel = li.querySelector(".cancel");
  let text;
  if (job.status === "queued") {
    text = `queued${job.queue_position ? ` · ${job.queue_position} ahead` : " · next"} · ${job.model}`;
  } else if (job.status === "in_progress") {
    text = live.total
      ? `step ${live.step}/${live.total}${live.eta != null ? ` · ETA ${fmtSeconds(live.eta)}` : ""} · ${job.model}`
      : `starting · ${job.model} (loading it the first time)`;
  } else if (job.status === "failed") {
    text = `failed: ${(job.error && job.error.message) || "no reason given"}`;
  } else {
    text = job.status;
  }
  status.textContent = text;
  status.classList.toggle("failed", job.status === "failed");
  const progress = live.total ? Math.round((100 * live.step) / live.total) : job.progress || 0;
  bar.value = progress;
  bar.hidden = job.status === "failed";
  cancel.textContent = job.status === "failed" ? "Remove" : "Cancel";
  if (live.preview) {
    const img = li.querySelector("img.preview");
    if (img.src !== live.preview) img.src = live.preview;
    img.hidden = false;
    li.querySelector("div.preview").hidden = true;
  }
}

function fmtSeconds(s) {
  return s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.max(0, Math.round(s))} s`;
}

async function cancelJob(id, button) {
  button.disabled = true;
  try {
    await apiJSON(`/v1/videos/${id}`, { method: "DELETE" });
    const job = state.jobs.get(id);
    if (job && job.status === "in_progress") {
      button.textContent = "Stopping…";
      return; // it stops at its next step; the poll removes it
    }
    forget(id);
    render();
  } catch (err) {
    button.disabled = false;
    if (err.status === 404) { forget(id); render(); }
  }
}

// the events stream of a running job, read with fetch (so it carries the token)
async function follow(id) {
  if (state.streams.has(id)) return;
  if (state.streams.size >= MAX_STREAMS) {
    // a running job takes the stream of one that waits (which reconnects when its turn comes)
    const job = state.jobs.get(id);
    const waiting = [...state.streams.keys()].find((other) => (state.jobs.get(other) || {}).status === "queued");
    if (!job || job.status !== "in_progress" || !waiting) return;
    state.streams.get(waiting).abort();
    state.streams.delete(waiting);
  }
  const abort = new AbortController();
  state.streams.set(id, abort);
  try {
    const response = await api(`/v1/videos/${id}/events`, { signal: abort.signal });
    if (!response.ok || !response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
        if (data) onEvent(id, JSON.parse(data));
      }
    }
  } catch (err) {
    // aborted, or the server went away: the poll sees to it
  } finally {
    if (state.streams.get(id) === abort) state.streams.delete(id);
  }
}

function onEvent(id, event) {
  const live = state.live.get(id) || {};
  if (event.event === "step") Object.assign(live, { step: event.step, total: event.total, eta: event.eta_s });
  else if (event.event === "preview") live.preview = event.image;
  state.live.set(id, live);
  const job = state.jobs.get(id);
  if (!job) return;
  if (event.event === "step" || event.event === "started") job.status = "in_progress";
  if (event.event === "completed") job.status = "completed";
  if (event.event === "failed") Object.assign(job, { status: "failed", error: event.error });
  if (event.event === "cancelled") return forget(id), render();
  if (event.event === "completed") return render();
  const li = $("queue").querySelector(`li[data-id="${CSS.escape(id)}"]`);
  if (li) updateQueueItem(li, job);
}

function galleryItem(job) {
  const li = el("li", { className: "video" });
  li.dataset.id = job.id;
  const video = el("video", { controls: true, preload: "auto", playsInline: true, loop: true });
  video.setAttribute("aria-label", `video: ${job.prompt || job.id}`);
  const seed = Number.isSafeInteger(job.seed) ? `seed ${job.seed}` : null; // a longer one: "use these settings"
  const meta = [job.model, job.size, job.seconds ? `${job.seconds} s` : null, seed];
  const use = el("button", { type: "button", className: "use", textContent: "Use these settings" });
  use.addEventListener("click", () => useSettings(job.id));
  const download = el("a", { className: "download", textContent: "Download", href: "#" });
  download.setAttribute("download", `${job.id}.mp4`);
  download.addEventListener("click", (event) => { if (!download.dataset.ready) event.preventDefault(); });
  const remove = el("button", { type: "button", className: "remove quiet", textContent: "Delete" });
  remove.setAttribute("aria-label", `Delete ${job.prompt || job.id}`);
  remove.addEventListener("click", () => cancelJob(job.id, remove));
  const spec = el("details", { className: "spec" }, el("summary", { textContent: "Spec" }), el("pre"));
  spec.addEventListener("toggle", () => { if (spec.open) showSpec(job.id, spec.querySelector("pre")); });
  li.append(
    video,
    el("p", { className: "prompt", textContent: job.prompt || "(no prompt)" }),
    el("p", { className: "meta", textContent: meta.filter(Boolean).join(" · ") }),
    spec,
    el("div", { className: "buttons" }, use, download, remove));
  loadVideo(job.id, video, download);
  return li;
}

async function loadVideo(id, video, download) {
  if (state.videos.has(id)) return;
  state.videos.set(id, "loading");
  try {
    const response = await api(`/v1/videos/${id}/content`);
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    if (!state.jobs.has(id)) return URL.revokeObjectURL(url);
    state.videos.set(id, url);
    video.src = url;
    download.href = url;
    download.dataset.ready = "1";
  } catch (err) {
    state.videos.delete(id); // the next render tries again
    const li = video.closest("li");
    if (li) setTimeout(() => li.remove(), 0);
  }
}

async function showSpec(id, pre) {
  if (pre.textContent) return;
  try {
    const answer = await apiJSON(`/v1/studio/videos/${id}/spec`);
    pre.textContent = JSON.stringify(answer.spec, null, 1).replace(/"(\d{16,})"/g, "$1");
  } catch (err) {
    pre.textContent = "";
  }
}

async function useSettings(id) {
  let answer;
  try {
    answer = await apiJSON(`/v1/studio/videos/${id}/spec`);
  } catch (err) {
    return showError("form", err.message);
  }
  const spec = answer.spec;
  clearErrors();
  if (state.models.has(spec.model)) {
    $("f-model").value = spec.model;
    modelChanged();
  }
  const set = (elId, value) => { $(elId).value = value == null ? "" : value; };
  set("f-prompt", spec.prompt);
  set("f-negative", spec.negative_prompt);
  set("f-steps", spec.steps);
  set("f-guidance", spec.guidance_scale);
  set("f-seed", spec.seed);
  set("f-width", spec.width);
  set("f-height", spec.height);
  set("f-frames", spec.num_frames);
  const c = card();
  set("f-seconds", c && spec.num_frames ? seconds(spec.num_frames, spec.fps || c.fps) : "");
  set("f-memory", typeof spec.memory === "string" ? spec.memory : "auto");
  set("f-cache", typeof spec.cache === "string" ? spec.cache : "none");
  const loras = (spec.loras || []).map((l) => (typeof l === "string" ? l : l.source)).filter(Boolean);
  set("f-loras", loras.join("\n"));
  setImage(null);
  if (answer.input_reference) $("e-input_reference").textContent = "This video started from an image: drop it again.";
  $("advanced").open = true;
  sizeHint();
  framesHint();
  planSoon();
  $("f-prompt").focus();
  $("compose").scrollIntoView({ block: "start" });
}

// ---- wiring --------------------------------------------------------------------------------------------------

function start() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    localStorage.setItem(TOKEN_KEY, hash.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("token-button").addEventListener("click", () => askToken(""));
  $("token-panel").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    $("token-panel").hidden = true;
    state.plans.clear();
    loadModels();
  });
  $("form").addEventListener("submit", submit);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && $("form").contains(document.activeElement)) submit(event);
  });
  $("f-model").addEventListener("change", () => { setImage(null); modelChanged(); });
  $("dice").addEventListener("click", () => {
    const word = new Uint32Array(1);
    crypto.getRandomValues(word);
    $("f-seed").value = word[0] % 2 ** 31;
  });
  for (const id of ["f-width", "f-height"]) {
    $(id).addEventListener("input", sizeHint);
    $(id).addEventListener("change", snapSize);
  }
  $("f-snap").addEventListener("change", () => { sizeHint(); framesHint(); });
  $("f-frames").addEventListener("input", framesHint);
  $("f-frames").addEventListener("change", snapFrames);
  $("f-seconds").addEventListener("change", secondsTyped);
  for (const id of ["f-steps", "f-memory", "f-cache"]) $(id).addEventListener("change", planSoon);
  for (const input of document.querySelectorAll("#form input, #form select, #form textarea")) {
    input.addEventListener("input", () => {
      input.removeAttribute("aria-invalid");
    });
  }
  $("f-image").addEventListener("change", () => setImage($("f-image").files[0]));
  $("image-clear").addEventListener("click", () => setImage(null));
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const file = [...event.dataTransfer.files].find((f) => f.type.startsWith("image/"));
    if (file) setImage(file);
  });
  poll();
}

document.addEventListener("DOMContentLoaded", start);
