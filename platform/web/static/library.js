// Videos still queued or processing: ask where they are every few seconds and update their cards in
// place (no reload, so focus and scroll stay put); say in a live region when one is ready or failed.
"use strict";
(function () {
  const EVERY_MS = 3000;
  const announce = document.getElementById("library-status");
  const pending = () => Array.from(document.querySelectorAll('.card[data-status="queued"], .card[data-status="processing"]'));

  function label(status, progress) {
    const name = status.charAt(0).toUpperCase() + status.slice(1);
    return status === "processing" ? name + " " + Math.round(progress * 100) + " %" : name;
  }

  function update(card, video) {
    const status = card.querySelector(".status");
    status.textContent = label(video.status, video.progress);
    status.className = "status status-" + video.status;
    if (video.status === card.dataset.status) return;
    card.dataset.status = video.status;
    if (video.status === "ready") {
      const placeholder = card.querySelector(".placeholder");
      if (placeholder) {
        const image = document.createElement("img");
        image.src = placeholder.dataset.thumbnail;
        image.alt = "";
        image.width = 320;
        image.height = 180;
        placeholder.replaceWith(image);
      }
      announce.textContent = "“" + card.dataset.title + "” is ready.";
    } else if (video.status === "failed") {
      announce.textContent = "“" + card.dataset.title + "” could not be processed.";
    }
  }

  async function poll() {
    const cards = pending();
    if (!cards.length) return;
    const query = cards.map((card) => "id=" + encodeURIComponent(card.dataset.videoId)).join("&");
    try {
      const answer = await fetch("/library/status?" + query, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        const body = await answer.json();
        for (const video of body.videos) {
          const card = document.querySelector('.card[data-video-id="' + video.id + '"]');
          if (card) update(card, video);
        }
      }
    } catch (error) {
      // A missed poll is only a late update; the next one tries again.
    }
    window.setTimeout(poll, EVERY_MS);
  }
  window.setTimeout(poll, EVERY_MS);
})();
