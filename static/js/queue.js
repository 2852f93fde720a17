// The labeling queue: keys 1–7 label, S skips, U undoes; the next image and new model versions
// appear without a reload (the queue from /api/queue/, versions from the /ws/models/ websocket).
(function () {
  const root = document.getElementById("labeling");
  if (!root) return;
  const labels = root.dataset.labels.split(",");
  const $ = (id) => document.getElementById(id);
  const queue = [];            // images fetched and not shown yet
  const seen = new Set();      // ids shown, labeled or skipped in this page: never fetched again
  const undoStack = [];        // {annotation, item} of labels given in this page, newest last
  let current = null;
  let busy = false;
  let fetching = null;

  function csrf() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function api(method, url, body) {
    const options = { method, credentials: "same-origin", headers: { "X-CSRFToken": csrf() } };
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.body = JSON.stringify(body);
      options.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(url, options);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }

  function say(text) { $("queue-status").textContent = text; }

  async function refill() {
    if (fetching) return fetching;
    const exclude = [...seen, ...queue.map((item) => item.id)].join(",");
    fetching = api("GET", `/api/queue/?n=10&exclude=${encodeURIComponent(exclude)}`)
      .then((items) => { items.forEach((item) => { if (!seen.has(item.id)) queue.push(item); }); })
      .catch((err) => say(`Could not load the queue: ${err.message}`))
      .finally(() => { fetching = null; });
    return fetching;
  }

  async function next() {
    if (!queue.length) await refill();
    show(queue.shift() || null);
    if (queue.length < 3) refill();
  }

  function show(item) {
    current = item;
    $("queue-frame").hidden = !item;
    $("queue-empty").hidden = !!item;
    if (!item) {
      $("queue-guess").textContent = "–";
      $("queue-uncertainty").textContent = "–";
      $("queue-bars").replaceChildren();
      $("queue-others").hidden = true;
      return;
    }
    seen.add(item.id);
    $("queue-frame").dataset.imageId = item.id;
    $("queue-image").src = item.image_url;
    const box = $("queue-box");
    if (item.face_box) {
      const [x, y, w, h] = item.face_box;
      Object.assign(box.style, { left: `${100 * x / item.width}%`, top: `${100 * y / item.height}%`,
                                 width: `${100 * w / item.width}%`, height: `${100 * h / item.height}%` });
      box.hidden = false;
    } else box.hidden = true;
    $("queue-guess").textContent = item.guess;
    $("queue-uncertainty").textContent = item.uncertainty.toFixed(2);
    $("queue-bars").replaceChildren(...labels.map((label) => bar(label, item.probabilities[label] || 0, label === item.guess)));
    const others = $("queue-others");
    if (item.labels.length) {
      const agreement = item.agreement === null ? "" : ` (agreement ${item.agreement.toFixed(2)})`;
      others.textContent = "Already labeled: " + item.labels.map((l) => `${l.label} by ${l.annotator}`).join(", ") + agreement;
      others.hidden = false;
    } else others.hidden = true;
  }

  function bar(label, p, top) {
    const li = document.createElement("li");
    li.className = "bar" + (top ? " top" : "");
    const percent = (100 * p).toFixed(1);
    li.innerHTML = '<span class="bar-label"></span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-value"></span>';
    li.querySelector(".bar-label").textContent = label;
    li.querySelector(".bar-fill").style.width = `${percent}%`;
    li.querySelector(".bar-value").textContent = `${percent}%`;
    return li;
  }

  async function label(name) {
    if (!current || busy) return;
    busy = true;
    const item = current;
    try {
      const annotation = await api("POST", "/api/annotations/", { image: item.id, label: name });
      undoStack.push({ annotation, item });
      $("labeled-count").textContent = String(undoStack.length);
      say(`Labeled ${name}: ${annotation.status.replace("_", " ")}.`);
      follow(annotation.id, name);
      await next();
    } catch (err) {
      say(`Not labeled: ${err.message}`);
    } finally {
      busy = false;
    }
  }

  async function follow(id, name) {
    // Report what online learning made of the label (the version itself arrives over the websocket).
    for (let i = 0; i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      let annotation;
      try { annotation = await api("GET", `/api/annotations/${id}/`); } catch (err) { return; }
      if (annotation.status !== "queued") {
        const what = { learned: "learned", held_back: "held back by the forgetting guard", outvoted: "outvoted" };
        $("live-note").textContent = `· ${name} ${what[annotation.status] || annotation.status} in version ${annotation.model_version}`;
        return;
      }
    }
  }

  async function skip() {
    if (!current || busy) return;
    say("Skipped.");
    await next();
  }

  async function undo() {
    if (busy || !undoStack.length) return;
    busy = true;
    const { annotation, item } = undoStack.pop();
    try {
      await api("DELETE", `/api/annotations/${annotation.id}/`);
      $("labeled-count").textContent = String(undoStack.length);
      if (current) queue.unshift(current);
      show(item);
      say(`Undid ${annotation.label}.`);
    } catch (err) {
      undoStack.push({ annotation, item });
      say(`Could not undo: ${err.message}`);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    const key = event.key.toLowerCase();
    if (key >= "1" && key <= String(labels.length)) { event.preventDefault(); label(labels[Number(key) - 1]); }
    else if (key === "s") { event.preventDefault(); skip(); }
    else if (key === "u") { event.preventDefault(); undo(); }
  });
  root.querySelectorAll("button.key").forEach((button) => button.addEventListener("click", () => {
    if (button.dataset.label) label(button.dataset.label);
    else if (button.dataset.action === "skip") skip();
    else if (button.dataset.action === "undo") undo();
  }));

  const form = $("labeled-upload");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $("upload-status").textContent = "Uploading…";
    try {
      const annotation = await api("POST", "/api/labeled-images/", new FormData(form));
      $("upload-status").textContent = `Uploaded and labeled ${annotation.label}: ${annotation.status.replace("_", " ")}.`;
      follow(annotation.id, annotation.label);
      form.reset();
    } catch (err) {
      $("upload-status").textContent = `Not uploaded: ${err.message}`;
    }
  });

  function connect(delay) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/models/`);
    socket.addEventListener("open", () => { delay = 1000; });
    socket.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.type === "model.updated") {
        $("live-version").textContent = data.version;
        root.dataset.liveVersion = data.version;
      }
    });
    socket.addEventListener("close", () => setTimeout(() => connect(Math.min(delay * 2, 30000)), delay));
  }
  connect(1000);
  next();
})();
