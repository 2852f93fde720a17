// The labeling queue: keys 1–7 label, S skips, U undoes, F marks "no usable face", I "not an infant"; the next
// image, the progress and new model versions appear without a reload (the queue from /api/queue/, skips kept on
// the server at /api/queue/skips/, versions from the /ws/models/ websocket).
(function () {
  const root = document.getElementById("labeling");
  if (!root) return;
  const labels = root.dataset.labels.split(",");
  const $ = (id) => document.getElementById(id);
  const queue = [];            // images fetched and not shown yet
  const seen = new Set();      // ids shown in this page: the server leaves out labeled and skipped ones itself
  const undoStack = [];        // {annotation, item} of labels given in this page, newest last
  let current = null;
  let busy = false;
  let fetching = null;
  let shownAt = 0;             // when the current photo appeared: the time to label it is sent with the label

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
    fetching = api("GET", "/api/queue/?n=10")
      .then((items) => {
        const queued = new Set(queue.map((item) => item.id));
        items.forEach((item) => { if (!seen.has(item.id) && !queued.has(item.id)) queue.push(item); });
      })
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
      $("queue-model").hidden = true;
      $("queue-guess").textContent = "–";
      $("queue-uncertainty").textContent = "–";
      $("queue-bars").replaceChildren();
      $("queue-others").hidden = true;
      return;
    }
    seen.add(item.id);
    shownAt = performance.now();
    $("queue-frame").dataset.imageId = item.id;
    $("queue-image").src = item.image_url;
    const why = $("queue-why");  // saliency.js drops the previous photo's heat map when this changes
    why.dataset.saliencySrc = why.dataset.saliencyPattern.replace("PHOTO", encodeURIComponent(item.id));
    const box = $("queue-box");
    if (item.face_box) {
      const [x, y, w, h] = item.face_box;
      Object.assign(box.style, { left: `${100 * x / item.width}%`, top: `${100 * y / item.height}%`,
                                 width: `${100 * w / item.width}%`, height: `${100 * h / item.height}%` });
      box.hidden = false;
    } else box.hidden = true;
    showModel(item);
    const others = $("queue-others");
    if (item.labels.length) {
      const agreement = item.agreement === null ? "" : ` (agreement ${item.agreement.toFixed(2)})`;
      others.textContent = "Already labeled: " + item.labels.map((l) => `${l.label} by ${l.annotator}`).join(", ") + agreement;
      others.hidden = false;
    } else others.hidden = true;
  }

  function showModel(item) {
    // In blind mode the server sent no guess: there is nothing to hide, only a note to show.
    const blind = item.guess === null;
    $("queue-model").hidden = blind;
    $("queue-blind").hidden = !blind;
    if (blind) return;
    $("queue-guess").textContent = item.guess;
    $("queue-uncertainty").textContent = item.uncertainty.toFixed(2);
    $("queue-bars").replaceChildren(...labels.map((label) => bar(label, item.probabilities[label] || 0, label === item.guess)));
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
      const seconds = Math.min(3600, Math.round((performance.now() - shownAt) / 100) / 10);
      const annotation = await api("POST", "/api/annotations/", { image: item.id, label: name, seconds });
      undoStack.push({ annotation, item });
      refreshProgress();
      $("labeled-count").textContent = String(undoStack.length);
      say(`Labeled ${name}: ${annotation.status.replace("_", " ")}.`);
      document.dispatchEvent(new CustomEvent("label-given", { detail: annotation }));  // labeling-effect.js
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
        refreshProgress();
        document.dispatchEvent(new CustomEvent("label-settled", { detail: annotation }));
        const what = { learned: "learned", held_back: "held back by the forgetting guard", outvoted: "outvoted" };
        $("live-note").textContent = `· ${name} ${what[annotation.status] || annotation.status} in version ${annotation.model_version}`;
        return;
      }
    }
  }

  async function skip() {
    if (!current || busy) return;
    busy = true;
    try {
      showProgress(await api("POST", "/api/queue/skips/", { image: current.id }));
      say("Skipped: it stays out of your queue until you bring skipped photos back.");
      await next();
    } catch (err) {
      say(`Not skipped: ${err.message}`);
    } finally {
      busy = false;
    }
  }

  async function bringBackSkipped() {
    if (busy) return;
    busy = true;
    try {
      showProgress(await api("DELETE", "/api/queue/skips/"));
      await reload("Skipped photos are back in your queue.");
    } catch (err) {
      say(`Could not bring them back: ${err.message}`);
    } finally {
      busy = false;
    }
  }

  async function unusable(reason) {
    if (!current || busy) return;
    busy = true;
    const what = reason === "no_face" ? "no usable face" : "not an infant";
    try {
      await api("POST", "/api/queue/unusable/", { image: current.id, reason });
      say(`Marked ${what}: the photo leaves everyone's queue and training.`);
      refreshProgress();
      await next();
    } catch (err) {
      say(`Not marked: ${err.message}`);
    } finally {
      busy = false;
    }
  }

  async function reload(message) {
    // Fetch the queue afresh (after skips come back or blind mode changes), starting again from its top.
    queue.length = 0;
    seen.clear();
    undoStack.forEach(({ item }) => seen.add(item.id));
    await refill();
    show(queue.shift() || null);
    say(message);
  }

  function showProgress(p) {
    const text = { "progress-labeled": p.labeled, "progress-total": p.total, "progress-remaining": p.remaining,
                   "progress-unusable": p.unusable, "progress-mine": p.mine, "progress-skipped": p.skipped };
    Object.entries(text).forEach(([id, value]) => { $(id).textContent = String(value); });
    const bar = $("progress-bar");
    bar.setAttribute("aria-valuemax", String(p.total));
    bar.setAttribute("aria-valuenow", String(p.labeled));
    bar.setAttribute("aria-valuetext", `${p.labeled} of ${p.total} photos labeled`);
    fillBar();
  }

  function fillBar() {
    const bar = $("progress-bar");
    const total = Number(bar.getAttribute("aria-valuemax"));
    const done = Number(bar.getAttribute("aria-valuenow"));
    bar.firstElementChild.style.width = `${total ? (100 * done) / total : 0}%`;
  }

  async function refreshProgress() {
    try { showProgress(await api("GET", "/api/queue/progress/")); } catch (err) { /* the next label tries again */ }
  }

  async function setBlind(field, on) {
    try {
      const state = await api("PATCH", "/api/queue/blind/", { [field]: on });
      await reload(state.blind ? "Blind mode on: the model's guess is not sent to you." : "Blind mode off: the model's guess is shown.");
    } catch (err) {
      say(`Blind mode not changed: ${err.message}`);
    }
  }

  async function undo() {
    if (busy || !undoStack.length) return;
    busy = true;
    const { annotation, item } = undoStack.pop();
    try {
      await api("DELETE", `/api/annotations/${annotation.id}/`);
      $("labeled-count").textContent = String(undoStack.length);
      refreshProgress();
      document.dispatchEvent(new CustomEvent("label-settled", { detail: annotation }));
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
    else if (key === "f") { event.preventDefault(); unusable("no_face"); }
    else if (key === "i") { event.preventDefault(); unusable("not_infant"); }
  });
  root.querySelectorAll("button.key").forEach((button) => button.addEventListener("click", () => {
    if (button.dataset.label) label(button.dataset.label);
    else if (button.dataset.action === "skip") skip();
    else if (button.dataset.action === "undo") undo();
    else if (button.dataset.action === "unusable") unusable(button.dataset.reason);
  }));
  $("skips-clear").addEventListener("click", bringBackSkipped);
  $("blind-mine").addEventListener("change", (event) => setBlind("mine", event.target.checked));
  const projectBlind = $("blind-project");
  if (projectBlind) projectBlind.addEventListener("change", (event) => setBlind("project", event.target.checked));
  fillBar();

  // live-version.js holds the page's /ws/models/ socket (and sets #live-version); it hands each event on here.
  document.addEventListener("model-event", (event) => {
    if (event.detail.type !== "model.updated") return;
    root.dataset.liveVersion = event.detail.version;
    refreshProgress();  // others' labels move the project's progress too
  });
  next();
})();
