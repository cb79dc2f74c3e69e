/* The "data temporarily unavailable" state of the dashboards (api/unavailable.py): a callback answered 503 with
   X-Data-Unavailable while the database cannot be reached. Show a banner saying so, poll /readyz, and reload the
   page once the database answers again, so every figure is fetched afresh without the user doing anything. */
(function () {
  "use strict";

  var HEADER = "X-Data-Unavailable";
  var POLL_MS = 3000;
  var original = window.fetch;
  var banner = null;
  var polling = false;

  function poll() {
    original("/readyz", {cache: "no-store", credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (body) {
        if (body && body.checks && body.checks.database === "ok") {
          window.location.reload();
        } else {
          window.setTimeout(poll, POLL_MS);
        }
      }, function () { window.setTimeout(poll, POLL_MS); });
  }

  function show() {
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "data-unavailable";
      banner.className = "data-unavailable";
      banner.setAttribute("role", "alert");
      banner.textContent = "Data temporarily unavailable: the database is not answering. " +
        "The figures below may be out of date; this page reloads by itself when it is back.";
      document.body.insertBefore(banner, document.body.firstChild);
    }
    if (!polling) {
      polling = true;
      window.setTimeout(poll, POLL_MS);
    }
  }

  window.fetch = function () {
    return original.apply(this, arguments).then(function (response) {
      if (response.status === 503 && response.headers.get(HEADER)) { show(); }
      return response;
    });
  };
})();
