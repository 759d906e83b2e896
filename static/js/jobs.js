// Shows a project's jobs with progress bars and times, refreshing while any is active; a job
// no worker takes is shown stuck with its reason, and a PI may retry or cancel it.
import {
  actionButton, bindJobButtons, canCancel, canRetry, jobMessage, jobTimes,
} from "./job_actions.js";

const section = document.getElementById("jobs");
const canManage = section?.dataset.canManage === "true";
let timer = null;

function line(job) {
  const li = document.createElement("li");
  li.dataset.jobId = job.id;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = job.progress;
  const label = document.createElement("span");
  const status = job.stuck ? "stuck" : job.status;
  const message = jobMessage(job);
  label.textContent = ` ${job.kind} #${job.id}: ${status}` + (message ? ` — ${message}` : "");
  const times = document.createElement("span");
  times.className = "hint job-times";
  times.textContent = ` (${jobTimes(job)})`;
  li.append(bar, label, times);
  if (job.status === "failed") li.className = "job-failed";
  if (job.stuck) {
    li.className = "job-stuck";
    const reason = document.createElement("div");
    reason.className = "job-reason";
    reason.textContent = job.stuck_reason;
    li.append(reason);
  }
  if (canManage && (canRetry(job) || canCancel(job))) {
    const actions = document.createElement("span");
    actions.className = "job-actions";
    if (canRetry(job)) actions.append(actionButton(job, "retry", "Retry"));
    if (canCancel(job)) actions.append(actionButton(job, "cancel", "Cancel"));
    const note = document.createElement("span");
    note.className = "hint";
    note.dataset.jobNote = "";
    actions.append(note);
    li.append(actions);
  }
  return li;
}

function render(jobs) {
  const list = section.querySelector("ul");
  if (jobs.length === 0) {
    const li = document.createElement("li");
    li.className = "hint";
    li.textContent = "No jobs yet.";
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...jobs.slice(0, 10).map(line));
}

async function refresh() {
  clearTimeout(timer);
  const response = await fetch(section.dataset.url, { credentials: "same-origin" });
  if (!response.ok) return;
  const page = await response.json();
  render(page.results);
  const active = page.results.some((j) => j.status === "queued" || j.status === "running");
  timer = setTimeout(refresh, active ? 1500 : 10000);
}

if (section) {
  document.querySelectorAll(".chip[data-color]").forEach((chip) => {
    chip.style.borderLeftColor = chip.dataset.color;
  });
  if (canManage) bindJobButtons(section, section.dataset.url, refresh);
  refresh();
}
