// The PI's Retry/Cancel buttons of the dashboard's job list; the page reloads after either.
import { bindJobButtons } from "../job_actions.js";

const list = document.querySelector("ul.dash-jobs[data-jobs-api]");
if (list) bindJobButtons(list, list.dataset.jobsApi, () => window.location.reload());
