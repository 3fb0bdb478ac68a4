// The monitor's live parts: SSE feeds that reconnect by themselves, and actions sent to the JSON API.
"use strict";

// Every state-changing request goes through the same JSON routes as any client; the header marks it as
// this site's own script (the server also checks Origin / Sec-Fetch-Site).
async function api(method, url, body) {
  const init = {method, headers: {"X-Requested-With": "planperfect-monitor", "Accept": "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(url, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  return {ok: resp.ok, status: resp.status, data};
}

function problem(answer) {
  const e = answer.data && answer.data.error;
  return e ? `${answer.status} ${e.code}: ${e.message}` : `HTTP ${answer.status}`;
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
    source.onerror = () => {
      say("reconnecting…");
      if (source.readyState === EventSource.CLOSED) setTimeout(open, 1000);
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

function job(section) {
  const id = section.dataset.jobId;
  window.monitorSeen = {};  // sequence -> when the page showed it (ms since the epoch): the latency figure
  let pending = null;
  let stop = null;
  async function refresh(sequences) {
    const resp = await fetch(`/monitor/jobs/${id}/panel`);
    if (!resp.ok) return;
    section.innerHTML = await resp.text();
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
  const problems = (e && e.details) || (e ? [{field: e.field, reason: e.message}] : []);
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
  if (!problems.length) { top.hidden = false; top.textContent = problem(answer); }
  if (first) first.focus();
}

function submitForm(form) {
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
    const a = await api("POST", "/v1/jobs", body);
    if (a.ok) location.assign(`/monitor/jobs/${a.data.job_id}`);
    else setErrors(form, a);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const ov = document.querySelector("[data-live]");
  if (ov) overview(ov);
  const j = document.querySelector("[data-job-id]#job");
  if (j) job(j);
  const f = document.getElementById("submit-job");
  if (f) submitForm(f);
});
