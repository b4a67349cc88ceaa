// A release's page, kept live: server-sent events carry the page's parts as the release moves; where they do
// not arrive (no EventSource, or a proxy that holds the stream back: nothing heard for 25 s) the page asks
// every 3 s instead. A part is swapped only when its hash changed, so a form being filled in keeps its focus.
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  if (!status || !status.dataset.liveEvents) {
    return;
  }
  var announce = document.getElementById("live-announce");
  var version = status.dataset.version;
  function url(base) {
    var query = status.dataset.liveQuery;
    return base + "?" + (query ? query + "&" : "") + "known=" + encodeURIComponent(version);
  }
  var ended = false;
  var polling = false;
  var source = null;
  var watchdog = null;

  function say(text) {
    status.textContent = text;
  }

  function apply(update) {
    version = update.version || version;
    var parts = update.parts || {};
    Object.keys(parts).forEach(function (id) {
      var element = document.getElementById(id);
      if (!element || element.dataset.hash === parts[id].hash) {
        return;
      }
      var focused = document.activeElement && element.contains(document.activeElement) ? document.activeElement.id : null;
      element.innerHTML = parts[id].html;
      element.dataset.hash = parts[id].hash;
      if (focused && document.getElementById(focused)) {
        document.getElementById(focused).focus();
      }
      if (id === "live-facts" && announce) {
        var state = element.querySelector(".state");
        announce.textContent = state ? "The release is now " + state.textContent + "." : "";
      }
    });
    if (update.final) {
      ended = true;
      say("This release has ended.");
      if (source) {
        source.close();
      }
      window.clearTimeout(watchdog);
    }
  }

  function poll() {
    if (ended) {
      return;
    }
    polling = true;
    say("Live: checking every 3 s.");
    fetch(url(status.dataset.livePoll), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 204) {
          return null;
        }
        if (!response.ok || response.headers.get("content-type").indexOf("json") < 0) {
          throw new Error("answer " + response.status);
        }
        return response.json();
      })
      .then(function (update) {
        if (update) {
          apply(update);
        }
        window.setTimeout(poll, 3000);
      })
      .catch(function () {
        ended = true;
        say("Updates stopped (signed out, or the service is away): reload the page.");
      });
  }

  function fallBack() {
    if (source) {
      source.close();
    }
    if (!polling) {
      poll();
    }
  }

  function heard() {
    window.clearTimeout(watchdog);
    watchdog = window.setTimeout(fallBack, 25000);
  }

  if (status.dataset.final) {
    return;
  }
  if (!window.EventSource) {
    poll();
    return;
  }
  source = new EventSource(url(status.dataset.liveEvents));
  heard();
  source.addEventListener("ping", function () {
    heard();
    say("Live: updates arrive as they happen.");
  });
  source.addEventListener("update", function (event) {
    heard();
    apply(JSON.parse(event.data));
  });
  source.addEventListener("gone", fallBack);
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      fallBack();
    }
  };
})();
