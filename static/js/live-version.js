// The page's one /ws/models/ client: keeps every [data-live-version] element on the live model version, keeps the
// training banner ([data-training-banner]) on a retrain's public progress, and hands each event to the page's other
// scripts as a "model-event" on document (queue.js listens there rather than opening a socket of its own).
(function () {
  const targets = document.querySelectorAll("[data-live-version]");
  const banner = document.querySelector("[data-training-banner]");
  if (!targets.length && !banner) return;
  const ACTIVE = ["queued", "running"];
  // A training seen on this page: the next version a training makes live is announced as its outcome.
  let training = banner ? ACTIVE.includes(banner.dataset.trainingStatus) : false;

  function say(...parts) {
    const line = document.createElement("p");
    parts.forEach((part) => {
      if (typeof part === "string") { line.append(part); return; }
      const span = document.createElement("span");
      span.textContent = part.text;
      span.dataset[part.data] = "";
      line.append(span);
    });
    banner.replaceChildren(line);
  }

  function showTraining(state) {
    if (!banner) return;
    if (ACTIVE.includes(state.status)) {
      training = true;
      banner.dataset.trainingStatus = state.status;
      const left = state.minutes_left ? `, about ${state.minutes_left} min left` : "";
      say("A better model is training — ", { text: state.stage, data: "trainingStage" }, ", ",
        { text: `${state.percent}%`, data: "trainingPercent" }, left);
    } else if (training) {
      // Failed, cancelled, or finished without going live: the banner goes away quietly.
      training = false;
      banner.dataset.trainingStatus = state.status;
      banner.replaceChildren();
    }
  }

  function showLive(data) {
    targets.forEach((el) => { el.textContent = data.version; });
    if (banner && training && data.reason === "train") {
      training = false;  // its "succeeded" follows: the banner keeps saying what happened
      banner.dataset.trainingStatus = "live";
      say("A better model is now live (version ", { text: data.version, data: "trainingVersion" }, ")");
    }
  }

  function connect(delay) {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/models/`);
    socket.addEventListener("open", () => { delay = 1000; });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "model.updated") showLive(data);
      else if (data.type === "training.public") showTraining(data.training);
      document.dispatchEvent(new CustomEvent("model-event", { detail: data }));
    });
    socket.addEventListener("close", () => setTimeout(() => connect(Math.min(delay * 2, 30000)), delay));
  }
  connect(1000);
})();
