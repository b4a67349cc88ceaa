// The player: HLS through hls.js where the browser has MediaSource, the browser's own HLS (Safari),
// and otherwise the MP4 <source> elements already in the page. A fatal HLS error falls back to them.
"use strict";
(function () {
  const video = document.getElementById("player");
  if (!video || !video.dataset.hls) return;
  const url = video.dataset.hls;
  if (window.Hls && window.Hls.isSupported()) {
    // No worker: it would need a blob: script, which the page's CSP does not allow.
    const hls = new window.Hls({ enableWorker: false, capLevelToPlayerSize: true });
    hls.on(window.Hls.Events.ERROR, function (_event, data) {
      if (!data.fatal) return;
      hls.destroy(); // detaches: the <source> elements take over
      video.dataset.player = "mp4";
      video.load();
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.dataset.player = "hls.js";
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    video.dataset.player = "native-hls";
  } else {
    video.dataset.player = "mp4";
  }
})();
