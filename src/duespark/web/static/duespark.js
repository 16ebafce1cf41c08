/* DueSpark pages: progressive enhancement only. Every page works without this file.

   Live preview: a form marked data-live-preview has a button marked data-preview-button
   whose formaction and formtarget post the form into the preview frame. Without
   JavaScript the user presses that button; with it, the form is posted there shortly
   after each change, so the preview follows typing, and once on load when the page says
   the frame shows something older than the form (data-live-preview="stale": a refused
   save shown again with what the user typed). */
(function () {
  "use strict";
  var DELAY_MS = 400;
  var forms = document.querySelectorAll("form[data-live-preview]");
  Array.prototype.forEach.call(forms, function (form) {
    var button = form.querySelector("[data-preview-button]");
    if (!button || typeof form.requestSubmit !== "function") {
      return;
    }
    var timer = null;
    var refresh = function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        form.requestSubmit(button);
      }, DELAY_MS);
    };
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    if (form.getAttribute("data-live-preview") === "stale") {
      refresh();
    }
  });
})();
