// Handover console behaviour that needs script. Kept in a file (never inline)
// so the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  // Copy buttons: <button data-copy="#element-id">Copy</button>
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.value !== undefined ? source.value : source.textContent;
    navigator.clipboard.writeText(text.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
  // Confirm destructive actions: <form data-confirm="Delete this endpoint?">
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);
  // Live streams close when the tab leaves the page. The back/forward cache
  // keeps a page the tab left alive, its event streams open, and a browser
  // gives one host six connections over HTTP/1.1: a few console pages
  // visited would leave the console waiting behind its own streams. A page
  // the cache brings back is loaded again, as what it shows is stale and its
  // streams are closed.
  if (window.htmx && htmx.createEventSource) {
    var streams = [];
    var createEventSource = htmx.createEventSource;
    htmx.createEventSource = function (url) {
      var source = createEventSource(url);
      streams = streams.filter(function (s) { return s.readyState !== EventSource.CLOSED; });
      streams.push(source);
      return source;
    };
    var hadStreams = false;
    window.addEventListener("pagehide", function () {
      hadStreams = streams.length > 0;
      streams.forEach(function (s) { s.close(); });
      streams = [];
    });
    window.addEventListener("pageshow", function (event) {
      if (event.persisted && hadStreams) window.location.reload();
    });
  }
})();
