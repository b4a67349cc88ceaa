// A video still processing: follow it, and show the player once it is ready.
"use strict";
(function () {
  const section = document.getElementById("processing");
  if (!section) return;
  window.reelgateFollow(section.dataset.events, document.getElementById("processing-progress"),
    document.getElementById("processing-status"), function () { window.location.reload(); });
})();
