// Drag-and-drop onto the drop zone fills the file input (one photo, several, or a .zip) and submits the form.
(function () {
  const zone = document.getElementById("drop-zone");
  const input = document.getElementById("image-input");
  const form = document.getElementById("upload-form");
  if (!zone || !input || !form) return;
  const label = zone.querySelector(".big");
  const show = () => {
    if (input.files.length === 1) label.textContent = input.files[0].name;
    else if (input.files.length > 1) label.textContent = `${input.files.length} files`;
  };
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer.files.length) return;
    input.files = event.dataTransfer.files;
    show();
    form.requestSubmit();
  });
})();
