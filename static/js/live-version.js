// Keeps every [data-live-version] element showing the live model version, pushed over /ws/models/.
(function () {
  const targets = document.querySelectorAll("[data-live-version]");
  if (!targets.length) return;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/models/`);
    socket.onmessage = (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "model.updated") targets.forEach((el) => { el.textContent = data.version; });
    };
    socket.onclose = () => setTimeout(connect, 3000);
  }
  connect();
})();
