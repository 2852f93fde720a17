// What the templates once did inline, which the Content-Security-Policy forbids: sizes and positions the server
// computed (bars, the face box, confusion-matrix shades) arrive as data-* attributes, and a form with
// data-confirm asks before it submits.
(function () {
  document.querySelectorAll("[data-width]").forEach((el) => { el.style.width = `${el.dataset.width}%`; });
  document.querySelectorAll("[data-box]").forEach((el) => {
    const [left, top, width, height] = el.dataset.box.split(",").map((value) => `${value}%`);
    Object.assign(el.style, { left, top, width, height });
  });
  document.querySelectorAll("[data-share]").forEach((el) => el.style.setProperty("--share", el.dataset.share));
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  }));
})();
