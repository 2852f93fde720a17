// The labeling page's upload: several photos or a .zip go to /api/imports/ with one label for all, labels from
// the zip's folders, or none; each file's fate is listed with a link to the stored photo's result page.
(function () {
  const form = document.getElementById("import-form");
  if (!form) return;
  const status = document.getElementById("import-status");
  const results = document.getElementById("import-results");
  const choice = document.getElementById("import-label");

  function csrf() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function item(name, text, id, outcome) {
    const li = document.createElement("li");
    li.dataset.outcome = outcome;
    const file = document.createElement("span");
    file.className = "file-name";
    file.textContent = name;
    li.append(file, ": ");
    if (id) {
      const link = document.createElement("a");
      link.href = `/predictions/${encodeURIComponent(id)}/`;
      link.textContent = text;
      li.append(link);
    } else {
      li.append(text);
    }
    return li;
  }

  function list(body) {
    results.replaceChildren(
      ...body.imported.map((f) => item(f.name, f.label ? `labeled ${f.label}` : "imported: waits in the queue for a label", f.id, "imported")),
      ...body.duplicates.map((f) => item(f.name, "stored already: skipped", f.id, "duplicate")),
      ...body.refused.map((f) => item(f.name, `refused. ${f.reason}`, null, "refused")),
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (choice.selectedOptions[0].dataset.folders) data.set("labels_from_folders", "true");
    if (!data.get("label")) data.delete("label");
    const count = form.querySelector("input[type=file]").files.length;
    status.textContent = `Uploading ${count} file${count === 1 ? "" : "s"}…`;
    results.replaceChildren();
    try {
      const response = await fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRFToken": csrf() },
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
      status.textContent = `Imported ${body.imported.length} (${body.labeled} labeled), ` +
        `${body.duplicates.length} stored already, ${body.refused.length} refused.`;
      list(body);
      form.reset();
    } catch (err) {
      status.textContent = `Not uploaded: ${err.message}`;
    }
  });
})();
