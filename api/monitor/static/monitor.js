// The monitor's live parts: SSE feeds that reconnect by themselves, and actions sent to the JSON API.
"use strict";

// Every state-changing request goes through the same JSON routes as any client; the header marks it as
// this site's own script (the server also checks Origin / Sec-Fetch-Site).
// A request that got no answer (the network, or the API going away) is status 0.
async function api(method, url, body, headers = {}) {
  const init = {method, headers: {"X-Requested-With": "planperfect-monitor", "Accept": "application/json", ...headers}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try { resp = await fetch(url, init); } catch (e) { return {ok: false, status: 0, data: null}; }
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  return {ok: resp.ok, status: resp.status, data};
}

function problem(answer) {
  const e = answer.data && answer.data.error;
  if (e) return `${answer.status} ${e.code}: ${e.message}`;
  return answer.status ? `HTTP ${answer.status}` : "no answer from the API (the network?); try again";
}

function say(text) {
  const s = document.getElementById("live-status");
  if (s) s.textContent = text;
}

// An EventSource that also comes back after the server refused it (an API starting up answers 503, which
// ends a plain EventSource for good); the browser's own retry covers dropped connections.
function live(url, handlers) {
  let source = null;
  function open() {
    source = new EventSource(url);
    source.onopen = () => say("live");
    for (const [type, fn] of Object.entries(handlers)) source.addEventListener(type, fn);
    source.onerror = async () => {
      say("reconnecting…");
      if (source.readyState !== EventSource.CLOSED) return;
      // Refused for good when the session ended (sign-out, a revoked key, expiry): to the sign-in page.
      const answer = await fetch(url, {method: "HEAD"}).catch(() => null);
      if (answer && answer.status === 401) location.assign(signInFor(location.pathname + location.search) + "&ended=1");
      else setTimeout(open, 1000);
    };
  }
  open();
  return () => { if (source) source.close(); say("finished"); };
}

function overview(section) {
  window.monitorUpdates = 0;
  live(section.dataset.live, {
    overview: (ev) => {
      const data = JSON.parse(ev.data);
      const showIdle = document.getElementById("show-idle");
      const keep = showIdle && showIdle.checked;
      section.innerHTML = data.html;
      const again = document.getElementById("show-idle");
      if (again) again.checked = keep;
      section.classList.toggle("show-idle", keep);
      window.monitorUpdates += 1;
      section.dataset.updates = String(window.monitorUpdates);
    },
    problem: (ev) => say(JSON.parse(ev.data).message),
  });
  section.addEventListener("change", (ev) => {
    if (ev.target.id === "show-idle") section.classList.toggle("show-idle", ev.target.checked);
  });
}

const FINISHED = new Set(["completed", "dead_lettered", "cancelled"]);
const JOB_EVENTS = ["JobSubmitted", "StageStarted", "StageExtended", "StageCompleted", "StageFailed",
                    "RetryScheduled", "JobCompleted", "JobDeadLettered", "JobRedriven", "JobCancelled",
                    "StageReturned"];

// The timeline's bars and marks carry their place as data: the Content-Security-Policy allows no inline style, and
// a script may still set it.
function place(root) {
  for (const el of root.querySelectorAll("[data-left]")) {
    el.style.left = `${el.dataset.left}%`;
    if (el.dataset.width !== undefined) el.style.width = `${el.dataset.width}%`;
  }
}

function job(section) {
  const id = section.dataset.jobId;
  window.monitorSeen = {};  // sequence -> when the page showed it (ms since the epoch): the latency figure
  let pending = null;
  let stop = null;
  async function refresh(sequences) {
    const resp = await fetch(`/monitor/jobs/${id}/panel`);
    if (!resp.ok) return;
    section.innerHTML = await resp.text();
    place(section);
    const now = Date.now();
    for (const s of sequences) window.monitorSeen[s] = window.monitorSeen[s] || now;
    // Stop following once the job as now shown has finished (the stream replays its whole history, so a
    // past JobDeadLettered before a redrive must not end it).
    const status = document.getElementById("job-status");
    if (stop && status && FINISHED.has(status.textContent.trim())) { stop(); stop = null; }
  }
  let queued = [];
  const handlers = {};
  for (const type of JOB_EVENTS) {
    handlers[type] = (ev) => {
      queued.push(Number(ev.lastEventId));
      // Events arrive in bursts: one re-render for a burst, not one per event.
      if (!pending) pending = setTimeout(() => { const s = queued; queued = []; pending = null; refresh(s); }, 50);
    };
  }
  if (section.dataset.finished !== "true") {
    stop = live(`/v1/jobs/${id}/stream`, handlers);
  }
}

document.addEventListener("click", async (ev) => {
  const t = ev.target;
  if (t.id === "cancel-job") {
    if (!confirm("Cancel this job? Its current attempt is abandoned and it runs no further stage.")) return;
    const a = await api("POST", `/v1/jobs/${t.dataset.jobId}/cancel`);
    document.getElementById("cancel-result").textContent = a.ok ? "cancelling…" : problem(a);
  } else if (t.id === "select-all") {
    for (const b of document.querySelectorAll('input[name="letter"]')) b.checked = true;
  } else if (t.id === "redrive-selected" || t.classList.contains("redrive-one")) {
    const boxes = t.classList.contains("redrive-one") ? [t] :
      [...document.querySelectorAll('input[name="letter"]:checked')];
    const out = document.getElementById("redrive-result");
    if (!boxes.length) { out.textContent = "Select at least one dead letter."; return; }
    const stages = [...new Set(boxes.map((b) => b.dataset.stage))].join(", ");
    const jobs = new Set(boxes.map((b) => b.dataset.job)).size;
    if (!confirm(`Redrive ${boxes.length} dead letter(s) of ${jobs} job(s)? Each job goes back to the stage ` +
                 `it failed at (${stages}) with fresh attempts; the letters are kept and marked redriven.`)) return;
    const lines = [];
    for (const b of boxes) {
      const id = b.value || b.dataset.letter;
      const a = await api("POST", `/v1/dlq/${id}/redrive`);
      lines.push(a.ok ? `job ${a.data.job_id} back at ${a.data.stage}` : problem(a));
      if (a.ok) {
        const row = document.querySelector(`tr[data-letter="${id}"] .letter-status`) ||
                    document.querySelector(".letter-status");
        if (row) row.innerHTML = `redriving: <a href="/monitor/jobs/${a.data.job_id}">follow the job</a>`;
        if (b.type === "checkbox") b.remove();
      }
    }
    out.textContent = lines.join("; ");
  } else if (t.id === "go-back") {
    history.back();
  } else if (t.id === "sign-out") {
    await api("DELETE", "/monitor/session");
    location.assign("/monitor/sign-in");
  } else if (t.classList.contains("run-now")) {
    const out = t.parentElement.querySelector(".run-result");
    const a = await api("POST", "/v1/pacing/trigger", {user_id: t.dataset.user});
    out.textContent = a.ok ? `analysis ${a.data.analysis_id} for ${a.data.local_date}: ${a.data.status}` +
      (a.status === 200 ? " (today already had one)" : "") : problem(a);
  }
});

function setErrors(form, answer) {
  for (const p of form.querySelectorAll(".error")) p.textContent = "";
  for (const i of form.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
  const top = document.getElementById("form-problem");
  top.hidden = true;
  const e = answer.data && answer.data.error;
  const problems = (e && e.details) || (e && e.field ? [{field: e.field, reason: e.message}] : []);
  let first = null;
  for (const pr of problems) {
    const slot = pr.field && document.getElementById(`e-${pr.field}`);
    if (slot) {
      slot.textContent = pr.reason;
      const input = form.querySelector(`[name="${pr.field}"]`);
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    } else {
      top.hidden = false;
      top.textContent = pr.field ? `${pr.field}: ${pr.reason}` : pr.reason || problem(answer);
    }
  }
  if (!problems.length) {
    top.hidden = false;
    // No answer, or the API's outage: the request may have been taken all the same; a retry sends the same key.
    const again = (answer.status === 0 || answer.status >= 500) && form.id === "submit-job" ?
      " Submit again to retry: the same submission never makes a second job." : "";
    top.textContent = problem(answer) + again;
  }
  if (first) first.focus();
}

// One Idempotency-Key per submission, kept while the same form is sent again (after a 503 or no answer, the job
// may exist all the same): a retry is then that job, not a second one. A changed form is a new submission.
function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // randomUUID needs HTTPS; this does not
  return "monitor-" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function submitForm(form) {
  let sent = null;  // {body, key} of the last submission that did not succeed
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = (name) => form.querySelector(`[name="${name}"]`).value;
    const number = (name) => (v(name).trim() === "" ? v(name) : Number(v(name)));
    const body = {
      job_type: v("job_type"),
      payload: {title: v("payload.title"),
                keywords: v("payload.keywords").split(",").map((k) => k.trim()).filter((k) => k)},
      priority: number("priority"),
      delay_seconds: number("delay_seconds"),
    };
    const text = JSON.stringify(body);
    if (!sent || sent.body !== text) sent = {body: text, key: newIdempotencyKey()};
    const a = await api("POST", "/v1/jobs", body, {"Idempotency-Key": sent.key});
    if (a.ok) { sent = null; location.assign(`/monitor/jobs/${a.data.job_id}`); }
    else setErrors(form, a);
  });
}

// Where a sign-in may lead, as the server decides it (api/monitor/session.py: local_target), checked again here
// because this is where the browser goes: what it reads once it has dropped tab, CR and LF and trimmed control
// characters and spaces must be `/`, a page under /monitor/ or /docs, never `//elsewhere`.
function localNext(target) {
  const seen = (target || "").replace(/[\t\n\r]/g, "").replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, "");
  const local = /^(?:\/(?:\?[!-\[\]-~]*)?|\/monitor\/[!-\[\]-~]*|\/docs)$/.test(seen);
  return local && !/\/(?:\.|%2e){1,2}(?:[/?#]|$)/i.test(seen) ? seen : "/";
}

function signInFor(next) {
  return `/monitor/sign-in?next=${encodeURIComponent(localNext(next))}`;
}

// The key goes to the server once; the answer sets an HttpOnly cookie naming a session (never the key), so no
// script of the page keeps either.
function signInForm(form) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = await api("POST", "/monitor/session", {key: form.querySelector('[name="key"]').value.trim()});
    if (a.ok) location.assign(localNext(form.dataset.next));
    else setErrors(form, a);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const ov = document.querySelector("[data-live]");
  if (ov) overview(ov);
  const j = document.querySelector("[data-job-id]#job");
  if (j) { place(j); job(j); }
  const f = document.getElementById("submit-job");
  if (f) submitForm(f);
  const s = document.getElementById("sign-in");
  if (s) signInForm(s);
});
