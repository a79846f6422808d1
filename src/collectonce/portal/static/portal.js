// Drag and drop on the upload form: an enhancement only. Without this script the plain file
// input and its submit button do the same job.
(function () {
  "use strict";
  document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("file");
  var status = document.getElementById("drop-status");
  if (!zone || !input || typeof DataTransfer === "undefined") {
    return;
  }
  var hint = zone.querySelector(".co-drop-hint");
  if (hint) {
    hint.hidden = false;
  }
  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("co-drag-over");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () {
      zone.classList.remove("co-drag-over");
    });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    var files = event.dataTransfer && event.dataTransfer.files;
    if (!files || files.length === 0) {
      return;
    }
    var chosen = new DataTransfer();
    chosen.items.add(files[0]);
    input.files = chosen.files;
    say(files.length > 1
      ? "Only one file is sent at a time: " + files[0].name + " is ready to upload."
      : files[0].name + " is ready to upload.");
  });
  input.addEventListener("change", function () {
    if (input.files && input.files.length) {
      say(input.files[0].name + " is ready to upload.");
    }
  });
})();
