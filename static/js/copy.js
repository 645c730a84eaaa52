/* A "Copy" button for a value shown once (a webhook's signing secret, an API token).
 *
 * Markup: <code id="X">value</code> <button type="button" data-copy="X" hidden>Copy</button>
 * <span data-copy-status="X" role="status"></span>. The button stays hidden without this
 * script (the value can still be selected by hand). It writes the value with the Clipboard
 * API where the browser allows it (HTTPS or localhost); elsewhere, or when the write is
 * refused, it selects the value and asks for Ctrl+C / Cmd+C. The value never leaves the page.
 */
(function () {
  "use strict";

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function setUp(button) {
    var id = button.getAttribute("data-copy");
    var value = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    if (!value) { return; }
    function say(text) { if (status) { status.textContent = text; } }
    function selectInstead() {
      selectText(value);
      say("Selected: press Ctrl+C (Cmd+C on a Mac) to copy it.");
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = value.textContent.trim();
      if (!navigator.clipboard || !window.isSecureContext) { selectInstead(); return; }
      navigator.clipboard.writeText(text).then(function () {
        say("Copied to the clipboard.");
      }, selectInstead);
    });
  }

  document.querySelectorAll("button[data-copy]").forEach(setUp);
}());
