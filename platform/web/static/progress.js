// Follows a video's processing over the page's event stream (shared by the upload and video pages).
// Announces state changes, not every percent, so screen readers are not flooded.
"use strict";
window.reelgateFollow = function (eventsUrl, bar, status, onFinal) {
  let lastStatus = null;
  let lastQuarter = -1;
  const source = new EventSource(eventsUrl);
  function handle(event) {
    const data = JSON.parse(event.data);
    const percent = Math.round((data.progress || 0) * 100);
    bar.value = percent;
    bar.textContent = percent + " %";
    const quarter = Math.floor(percent / 25);
    if (data.status !== lastStatus || (data.status === "processing" && quarter !== lastQuarter)) {
      lastStatus = data.status;
      lastQuarter = quarter;
      if (data.status === "ready") status.textContent = "Ready to watch.";
      else if (data.status === "failed") status.textContent = "Processing failed: " + (data.failure_reason || "unknown reason") + ".";
      else if (data.status === "queued") status.textContent = "Waiting to be processed.";
      else status.textContent = "Processing, " + percent + " % done.";
    }
    if (data.status === "ready" || data.status === "failed") {
      source.close();
      onFinal(data);
    }
  }
  for (const name of ["queued", "processing", "ready", "failed"]) source.addEventListener(name, handle);
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) status.textContent = "Lost contact with the server; reload the page to see the latest state.";
  };
  return source;
};
