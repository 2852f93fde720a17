// The clip page: the analysis's progress (from the page's /ws/models/ socket, which live-version.js hands on as
// "model-event"s, with a slow poll in case the socket missed the end), then the timeline chart under the video:
// one band per expression, the smoothed segments above them, gaps where no face was seen. Clicking the chart, the
// arrow keys on it, or a segment's button seek the video; playing moves the chart's cursor.
(function () {
  const data = JSON.parse(document.getElementById("video-data").textContent);
  const video = document.getElementById("clip");
  const statusLine = document.getElementById("video-status");
  const bar = document.getElementById("video-progress");
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = { angry: "#c92a2a", disgust: "#5c940d", fear: "#7048e8", happy: "#e8590c", sad: "#1971c2", surprise: "#d6336c", neutral: "#868e96" };

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  // ---- progress -------------------------------------------------------------------------------------------------
  function showProgress(state) {
    if (state.id !== data.id || !statusLine) return;
    statusLine.dataset.status = state.status;
    if (state.status === "processing") {
      const left = state.seconds_left != null ? `, about ${state.seconds_left} s left` : "";
      statusLine.textContent = `Analysing, ${state.percent} %${left}`;
      if (bar) bar.style.width = `${state.percent}%`;
    } else if (state.status === "queued") {
      statusLine.textContent = "Waiting to be analysed…";
    } else if (state.status === "done" || state.status === "failed") {
      statusLine.textContent = state.status === "done" ? "Analysed: loading the timeline…" : `The analysis failed: ${state.error || ""}`;
      window.location.reload();
    }
  }

  if (data.status === "queued" || data.status === "processing") {
    document.addEventListener("model-event", (event) => {
      if (event.detail.type === "video.progress") showProgress(event.detail.video);
    });
    const poll = () => fetch(`/api/videos/${data.id}/`, { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((now) => {
        if (now && (now.status === "done" || now.status === "failed")) {
          showProgress({ id: now.id, status: now.status, error: now.error });
        } else {
          setTimeout(poll, 5000);
        }
      })
      .catch(() => setTimeout(poll, 5000));
    setTimeout(poll, 5000);
    return;
  }

  // ---- the timeline chart ---------------------------------------------------------------------------------------
  const chart = document.getElementById("timeline");
  if (!chart) return;
  const labels = data.labels;
  const duration = Math.max(data.duration_s, 1e-3);
  const step = 1 / data.fps;
  const WIDTH = 1000, LEFT = 90, STRIP = 22, BAND = 26, GAP = 6;
  const HEIGHT = STRIP + GAP + BAND * labels.length;
  const x = (t) => LEFT + ((WIDTH - LEFT) * t) / duration;

  function node(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    Object.entries(attributes).forEach(([key, value]) => element.setAttribute(key, value));
    if (parent) parent.append(element);
    return element;
  }

  const svg = node("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, "aria-hidden": "true", focusable: "false" });
  node("rect", { x: LEFT, y: 0, width: WIDTH - LEFT, height: STRIP, class: "strip-bg" }, svg);
  data.segments.forEach((segment) => {
    node("rect", {
      x: x(segment.start), y: 0, width: Math.max(1, x(segment.end) - x(segment.start)), height: STRIP,
      fill: COLOURS[segment.label] || "#495057", "data-segment": segment.label,
    }, svg);
  });
  labels.forEach((label, row) => {
    const top = STRIP + GAP + row * BAND;
    node("rect", { x: LEFT, y: top, width: WIDTH - LEFT, height: BAND - 2, class: "band-bg" }, svg);
    const name = node("text", { x: LEFT - 8, y: top + BAND / 2 + 4, "text-anchor": "end", class: "band-label" }, svg);
    name.textContent = label;
    // One sub-path per run of frames with a face: a frame without one breaks the line, so gaps read as gaps.
    let path = "", open = false;
    data.frames.forEach((frame) => {
      if (!frame.probabilities) { open = false; return; }
      const px = x(frame.t + step / 2).toFixed(1);
      const py = (top + (BAND - 3) * (1 - frame.probabilities[label])).toFixed(1);
      path += `${open ? "L" : "M"}${px} ${py} `;
      open = true;
    });
    if (path) node("path", { d: path, stroke: COLOURS[label], fill: "none", "stroke-width": 2, "vector-effect": "non-scaling-stroke" }, svg);
  });
  const cursor = node("line", { x1: LEFT, x2: LEFT, y1: 0, y2: HEIGHT, class: "cursor", "vector-effect": "non-scaling-stroke" }, svg);
  chart.append(svg);

  function frameAt(t) {
    let best = null;
    data.frames.forEach((frame) => { if (frame.t <= t + 1e-6) best = frame; });
    return best;
  }

  function showTime(t) {
    cursor.setAttribute("x1", x(t));
    cursor.setAttribute("x2", x(t));
    const frame = frameAt(t);
    const what = frame && frame.label ? frame.label : "no face";
    chart.setAttribute("aria-valuenow", t.toFixed(1));
    chart.setAttribute("aria-valuetext", `${clock(t)}, ${what}`);
  }

  function seek(t) {
    const to = Math.min(Math.max(0, t), duration);
    video.currentTime = to;
    showTime(to);
  }

  chart.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const fraction = ((event.clientX - box.left) / box.width * WIDTH - LEFT) / (WIDTH - LEFT);
    if (fraction >= 0) seek(fraction * duration);
  });
  chart.addEventListener("keydown", (event) => {
    const now = video.currentTime;
    const moves = { ArrowRight: now + step, ArrowLeft: now - step, ArrowUp: now + 1, ArrowDown: now - 1,
      PageUp: now + 10, PageDown: now - 10, Home: 0, End: duration };
    if (!(event.key in moves)) return;
    event.preventDefault();
    seek(moves[event.key]);
  });
  video.addEventListener("timeupdate", () => showTime(video.currentTime));
  video.addEventListener("seeked", () => showTime(video.currentTime));
  document.querySelectorAll("[data-seek]").forEach((button) => {
    button.addEventListener("click", () => seek(Number(button.dataset.seek)));
  });

  // ---- "Label this moment" --------------------------------------------------------------------------------------
  const labelButton = document.getElementById("label-moment");
  const momentStatus = document.getElementById("moment-status");
  const csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  if (labelButton && !labelButton.disabled) {
    labelButton.addEventListener("click", () => {
      labelButton.disabled = true;
      fetch(labelButton.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": decodeURIComponent(csrf), Accept: "application/json" },
        body: JSON.stringify({ t: video.currentTime }),
      })
        .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
        .then(({ ok, body }) => {
          momentStatus.textContent = ok ? `The face at ${clock(body.t)} is in the labeling queue.` : body.error;
        })
        .catch(() => { momentStatus.textContent = "The moment could not be sent; try again."; })
        .finally(() => { labelButton.disabled = false; });
    });
  }
  showTime(0);
})();
