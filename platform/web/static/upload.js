// Streams the upload with XHR (the CSRF token goes in a header, so the server never buffers the
// body), shows its progress, then follows processing until the video is ready or has failed.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  const section = document.getElementById("progress");
  const uploadBar = document.getElementById("upload-progress");
  const processingBar = document.getElementById("processing-progress");
  const status = document.getElementById("upload-status");
  const done = document.getElementById("upload-done");
  const link = document.getElementById("video-link");
  const errorBox = document.getElementById("upload-error");
  const button = document.getElementById("upload-button");
  const token = document.querySelector('meta[name="csrf-token"]').content;

  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    errorBox.hidden = true;
    done.hidden = true;
    if (!form.file.files.length) { fail("Choose a video file first."); form.file.focus(); return; }
    // Said before sending: a server refusing mid-upload often reaches the browser as a dropped connection.
    const limit = Number(form.dataset.maxBytes);
    if (limit && form.file.files[0].size > limit) {
      fail("That file is too large: the limit is " + Math.floor(limit / 1e6) + " MB.");
      form.file.focus();
      return;
    }
    button.disabled = true;
    section.hidden = false;
    uploadBar.value = 0;
    processingBar.value = 0;
    status.textContent = "Uploading.";
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("x-csrftoken", token);
    xhr.setRequestHeader("Accept", "application/json");
    let lastQuarter = 0;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      const percent = Math.round((e.loaded / e.total) * 100);
      uploadBar.value = percent;
      uploadBar.textContent = percent + " %";
      if (Math.floor(percent / 25) > lastQuarter && percent < 100) {
        lastQuarter = Math.floor(percent / 25);
        status.textContent = "Uploading, " + percent + " % sent.";
      }
    });
    xhr.addEventListener("load", function () {
      let body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status !== 202) {
        status.textContent = "Upload failed.";
        fail(body.detail || "The upload failed (HTTP " + xhr.status + ").");
        return;
      }
      uploadBar.value = 100;
      status.textContent = "Uploaded. Waiting to be processed.";
      link.href = body.page;
      window.reelgateFollow(body.events, processingBar, status, function (data) {
        button.disabled = false;
        if (data.status === "ready") { done.hidden = false; form.reset(); }
        else fail("Processing failed: " + (data.failure_reason || "unknown reason") + ".");
      });
    });
    xhr.addEventListener("error", function () { status.textContent = "Upload failed."; fail("The upload did not reach the server. Check your connection and try again."); });
    xhr.send(new FormData(form));
  });
})();
