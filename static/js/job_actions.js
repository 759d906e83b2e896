// What a job line says besides its progress (times, stuck reason) and the PI's Retry/Cancel.
import { Api } from "./label/api.js";

function clock(iso) {
  const when = new Date(iso);
  const sameDay = when.toDateString() === new Date().toDateString();
  return sameDay ? when.toLocaleTimeString() : when.toLocaleString();
}

// "queued 14:02:11 · started 14:03:40 · finished 14:05:02": the real times, never "ago" alone.
export function jobTimes(job) {
  const parts = [`queued ${clock(job.created_at)}`];
  if (job.started_at) parts.push(`started ${clock(job.started_at)}`);
  if (job.finished_at) parts.push(`finished ${clock(job.finished_at)}`);
  return parts.join(" · ");
}

// The message worth showing: a succeeded job's last phase ("Evaluating") is history.
export function jobMessage(job) {
  return job.status === "succeeded" ? "" : job.message;
}

export function canRetry(job) {
  return Boolean(job.stuck);
}

export function canCancel(job) {
  return (job.status === "queued" || job.status === "running") && !job.cancel_requested;
}

export function actionButton(job, action, text) {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.jobAction = action;
  button.dataset.jobId = job.id;
  button.textContent = text;
  return button;
}

// Clicks on button[data-job-action] inside `root` POST to `${base}${id}/${action}/`; the
// answer's detail (a 409 says why) goes to the line's [data-job-note]; then `after()`.
export function bindJobButtons(root, base, after) {
  const api = new Api(base, root.dataset.csrfToken || "");
  root.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-job-action]");
    if (!button) return;
    button.disabled = true;
    const note = button.closest("li")?.querySelector("[data-job-note]");
    try {
      await api.post(`${button.dataset.jobId}/${button.dataset.jobAction}/`);
      if (note) note.textContent = button.dataset.jobAction === "retry" ? "Sent again." : "Cancelled.";
    } catch (error) {
      if (note) note.textContent = error.message;
      button.disabled = false;
      return;
    }
    after();
  });
}
