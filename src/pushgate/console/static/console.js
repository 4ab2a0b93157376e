// pushgate console: refresh a notification's charts while it is being delivered.
// The server renders the charts; this only swaps the HTML it answers in, once a second.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !live.dataset.live) { return; }
  var url = live.dataset.live;
  var delayMs = 1000;
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        live.innerHTML = data.html;  // server-rendered, escaped markup of our own
        if (!data.done) { window.setTimeout(poll, delayMs); }
      })
      .catch(function () { window.setTimeout(poll, delayMs * 5); });
  }
  window.setTimeout(poll, delayMs);
})();
