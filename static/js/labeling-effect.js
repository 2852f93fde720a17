// "What your labels did" on the labeling page: refreshed from /api/queue/effect/ after each label the page gives
// or sees settled (queue.js sends "label-given" and "label-settled"), on every new live version, and every 15 s.
(function () {
  const root = document.getElementById("effect");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const percent = (value) => (value === null ? "unknown" : `${Math.round(100 * value)}%`);

  function text(tag, value, id) {
    const element = document.createElement(tag);
    if (id) { element.id = id; element.dataset.testid = id; }
    element.textContent = value;
    return element;
  }

  function showAccuracy(effect) {
    const line = $("effect-accuracy");
    if (!effect.started_version) {
      line.textContent = "Your first label starts the count: the live model's infant accuracy then and now will show here.";
      return;
    }
    const retrained = effect.comparable ? ""
      : "; retrained since, on everyone's labels, and scored on other photos, so the two are not compared";
    const change = effect.change_points === null ? retrained
      : `: ${effect.change_points > 0 ? "+" : ""}${effect.change_points} points`;
    line.replaceChildren(
      "Infant validation accuracy of the live model: ", text("strong", percent(effect.live_accuracy), "effect-now"),
      " now (version ", text("span", effect.live_version || "none", "effect-live-version"), "), against ",
      text("strong", percent(effect.started_accuracy), "effect-then"),
      " when you started (version ", text("span", effect.started_version, "effect-started-version"), ")",
      text("span", change, "effect-change"), ".",
    );
  }

  function show(effect) {
    showAccuracy(effect);
    const counts = { "effect-labels": effect.labels, "effect-learned": effect.learned,
                     "effect-held-back": effect.held_back, "effect-suspect": effect.suspect,
                     "effect-waiting": effect.waiting };
    Object.entries(counts).forEach(([id, value]) => { $(id).textContent = String(value); });
    $("effect-reasons").replaceChildren(...effect.held_back_recent.map(
      (held) => text("li", `${held.label}: ${held.reason || "no reason recorded"}`)));
  }

  let pending = null;
  async function refresh() {
    if (pending) return pending;
    pending = fetch("/api/queue/effect/", { credentials: "same-origin" })
      .then((response) => (response.ok ? response.json() : null))
      .then((effect) => { if (effect) show(effect); })
      .catch(() => { /* the next refresh tries again */ })
      .finally(() => { pending = null; });
    return pending;
  }

  document.addEventListener("label-given", refresh);
  document.addEventListener("label-settled", refresh);
  document.addEventListener("model-event", (event) => { if (event.detail.type === "model.updated") refresh(); });
  setInterval(refresh, 15000);
})();
