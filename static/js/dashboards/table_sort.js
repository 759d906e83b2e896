// Click a column header to sort a table's rows by it; click again to reverse.
// A cell's data-sort attribute, when present, is sorted on instead of its text; values that
// read as numbers sort numerically, empty ones and dashes always last.

function cellKey(row, index) {
  const cell = row.cells[index];
  if (!cell) return null;
  const raw = (cell.dataset.sort ?? cell.textContent).trim();
  if (raw === "" || raw === "–") return null;
  const number = Number(raw.replace(/[%\s]|px$/g, ""));
  return Number.isFinite(number) ? number : raw.toLowerCase();
}

function compare(a, b) {
  if (a === null) return b === null ? 0 : 1;
  if (b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b));
}

export function makeSortable(table) {
  const body = table.tBodies[0];
  if (!body || body.rows.length < 2) return;
  const headers = Array.from(table.tHead.rows[0].cells);
  headers.forEach((th, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent;
    th.replaceChildren(button);
    th.setAttribute("aria-sort", "none");
    button.addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach((h) => h.setAttribute("aria-sort", "none"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const rows = Array.from(body.rows);
      rows.sort((r1, r2) => {
        const a = cellKey(r1, index);
        const b = cellKey(r2, index);
        if (a === null || b === null) return compare(a, b); // blanks last either way
        return ascending ? compare(a, b) : compare(b, a);
      });
      body.append(...rows);
    });
  });
}

export function makeAllSortable(root = document) {
  root.querySelectorAll("table.sortable").forEach(makeSortable);
}
