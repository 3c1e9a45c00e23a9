// Copy buttons: <button data-copy="ID" hidden> copies the value (or text) of the element ID.
// The buttons stay hidden without JavaScript; the text itself is still there to select by hand.
// Loaded with <script src defer> (the pages' CSP allows no inline script).
(function () {
  "use strict";

  function say(button, message) {
    var scope = button.closest(".snippet") || document;
    var result = scope.querySelector(".copy-result");
    if (result) result.textContent = message;
  }

  function fallback(source) {
    // Plain http on a non-local host has no navigator.clipboard: select the text and copy it.
    source.focus();
    if (source.select) source.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    var text = "value" in source ? source.value : source.textContent;
    var done = function () { say(button, "Copied."); };
    var failed = function () {
      say(button, fallback(source) ? "Copied." : "Could not copy: the text is selected, press Ctrl+C.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, failed);
    } else {
      failed();
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { copy(button); });
  });
})();
