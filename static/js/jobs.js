// Shows a project's jobs with progress bars, refreshing while any is running.
const section = document.getElementById("jobs");

function render(jobs) {
  const list = section.querySelector("ul");
  list.replaceChildren();
  if (jobs.length === 0) {
    const li = document.createElement("li");
    li.className = "hint";
    li.textContent = "No jobs yet.";
    list.append(li);
    return;
  }
  for (const job of jobs.slice(0, 10)) {
    const li = document.createElement("li");
    const bar = document.createElement("progress");
    bar.max = 1;
    bar.value = job.progress;
    const label = document.createElement("span");
    label.textContent = ` ${job.kind} #${job.id}: ${job.status}` + (job.message ? ` — ${job.message}` : "");
    if (job.status === "failed") li.className = "job-failed";
    li.append(bar, label);
    list.append(li);
  }
}

async function refresh() {
  const response = await fetch(section.dataset.url, { credentials: "same-origin" });
  if (!response.ok) return;
  const page = await response.json();
  render(page.results);
  const active = page.results.some((j) => j.status === "queued" || j.status === "running");
  setTimeout(refresh, active ? 1500 : 10000);
}

if (section) {
  document.querySelectorAll(".chip[data-color]").forEach((chip) => {
    chip.style.borderLeftColor = chip.dataset.color;
  });
  refresh();
}
