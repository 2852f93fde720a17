// "Why?": loads the model's heat map for a photo on demand (computed by the server on first request) into the
// figure the button names. The label it explains comes from the response, so the image's alt text names it.
(function () {
  document.querySelectorAll("[data-saliency-src]").forEach((button) => {
    const figure = document.getElementById(button.dataset.saliencyTarget);
    if (!figure) return;
    const image = figure.querySelector("img");
    const status = figure.querySelector("[data-saliency-status]") || document.createElement("p");
    // A page that shows one photo after another (the labeling queue) changes data-saliency-src: the old map goes.
    new MutationObserver(() => {
      figure.hidden = true;
      image.hidden = true;
      image.removeAttribute("src");
      status.textContent = "";
      button.setAttribute("aria-expanded", "false");
    }).observe(button, { attributes: true, attributeFilter: ["data-saliency-src"] });
    button.addEventListener("click", async () => {
      if (!figure.hidden && image.getAttribute("src")) {
        figure.hidden = true;
        button.setAttribute("aria-expanded", "false");
        return;
      }
      button.disabled = true;
      figure.hidden = false;
      button.setAttribute("aria-expanded", "true");
      status.textContent = "Working out what the model looked at…";
      try {
        const response = await fetch(button.dataset.saliencySrc, { credentials: "same-origin" });
        if (!response.ok) throw new Error((await response.text()) || `The server answered ${response.status}.`);
        const label = response.headers.get("X-Explained-Label") || "its answer";
        const version = response.headers.get("X-Model-Version");
        await response.blob(); // now in the browser's cache (private, five minutes): the image below reuses it
        image.alt = `Heat map over the face: red marks what most moved the model${version ? ` (version ${version})` : ""} towards "${label}", blue what moved it least.`;
        image.src = button.dataset.saliencySrc;
        image.hidden = false;
        status.textContent = `Explaining "${label}".`;
      } catch (error) {
        image.hidden = true;
        status.textContent = `No heat map: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  });
})();
