// The models page: a live progress bar for the running training, from the jobs API.
const box = document.getElementById("training");

async function poll() {
  const response = await fetch(box.dataset.jobUrl, { credentials: "same-origin" });
  if (!response.ok) {
    setTimeout(poll, 5000);
    return;
  }
  const job = await response.json();
  box.querySelector("progress").value = job.progress;
  box.querySelector("[data-role=message]").textContent = job.message || "";
  if (job.status === "queued" || job.status === "running") {
    setTimeout(poll, 1500);
  } else {
    window.location.reload(); // the version's result is in the table now
  }
}

if (box && box.dataset.jobUrl) poll();
