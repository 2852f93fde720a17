// Live retrain progress over the /ws/training/ websocket; the versions list refreshes when a retrain ends.
(function () {
  const panel = document.getElementById("retrain");
  if (!panel) return;
  const el = (id) => document.getElementById(id);
  const initial = JSON.parse(el("job-data").textContent || "null");
  let lastStatus = initial ? initial.status : null;

  function formatEta(seconds) {
    if (seconds == null) return "";
    const s = Math.max(0, Math.round(seconds));
    return s >= 60 ? `ETA ${Math.floor(s / 60)} min ${s % 60} s` : `ETA ${s} s`;
  }

  function render(job) {
    if (!job) return;
    const p = job.progress || {};
    el("job").hidden = false;
    el("job-title").textContent = `Retrain #${job.id}`;
    el("job-status").textContent = job.status;
    el("job-stage").textContent = p.stage || "";
    const percent = Math.round(100 * (job.status === "succeeded" ? 1 : (p.fraction || 0)));
    el("job-bar").style.width = `${percent}%`;
    el("job-bar").parentElement.setAttribute("aria-valuenow", String(percent));
    el("job-percent").textContent = `${percent}%`;
    const stagePercent = Math.round(100 * (p.stage_fraction || 0));
    el("stage-bar").style.width = `${stagePercent}%`;
    el("stage-bar").parentElement.setAttribute("aria-valuenow", String(stagePercent));
    const parts = [];
    if (p.epoch != null) parts.push(`epoch ${p.epoch}`);
    if (p.step != null && p.total) parts.push(`step ${p.step}/${p.total}`);
    if (p.loss != null) parts.push(`loss ${Number(p.loss).toFixed(3)}`);
    for (const [name, value] of Object.entries(p.metrics || {})) {
      if (name !== "overall_fraction") parts.push(`${name} ${Number(value).toFixed(3)}`);
    }
    const eta = formatEta(p.eta_seconds);
    if (eta && job.status === "running") parts.push(eta);
    el("job-detail").textContent = parts.join(" · ");
    el("job-message").textContent = job.message || "";
    const cancel = el("cancel-form");
    cancel.action = `/dashboard/retrain/${job.id}/cancel/`;
    cancel.hidden = !(job.status === "queued" || job.status === "running");
    const ended = ["succeeded", "failed", "cancelled"].includes(job.status);
    if (ended && lastStatus !== job.status) refreshVersions();
    lastStatus = job.status;
  }

  async function refreshVersions() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const selector of ["#versions", ".chart", "#calibration", ".audit"]) {
      const now = document.querySelector(selector);
      const next = fresh.querySelector(selector);
      if (now && next) now.replaceWith(next);
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${panel.dataset.ws}`);
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "training.progress") render(data.job);
    };
    socket.onclose = (event) => { if (event.code !== 4403) setTimeout(connect, 2000); };
  }

  render(initial);
  connect();
})();
