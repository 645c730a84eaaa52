/* What a page says when an htmx request fails without an answer to show in place.
 *
 * htmx (static/vendor/htmx.min.js, configured in base.html) swaps 400 and 422 answers in place:
 * they carry a form's reasons. Every other failure would leave the page as it was, silently;
 * this names it in the page's live notice area instead.
 */
(function () {
  "use strict";

  var WORDS = {
    401: "You are signed out. Sign in again, then retry.",
    403: "You do not have permission to do this.",
    404: "This item no longer exists. Reload the page to see the current list.",
    409: "Someone changed this at the same time. Reload the page and try again.",
    413: "This is too large for the server to accept.",
    429: "Too many attempts. Wait a minute, then try again.",
  };

  function show(text) {
    var area = document.getElementById("htmx-notice");
    if (!area) return;
    area.textContent = text;
    area.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    show(WORDS[status] || ("The server could not do this (error " + status + "). " +
      "Try again; if it keeps failing, tell your administrator."));
  });
  document.addEventListener("htmx:sendError", function () {
    show("The server could not be reached. Check your connection, then try again.");
  });
  document.addEventListener("htmx:beforeRequest", function () {
    var area = document.getElementById("htmx-notice");
    if (area) area.hidden = true;
  });
})();
