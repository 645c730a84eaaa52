// The demo store's "Sign out": the widget forgets the signed-in customer's conversation
// (window.SupportDesk.reset(), as a host page must on sign-out), so the next visitor on this
// browser neither sees it nor reaches the customer's orders through it. reset() keeps its
// promise even when the page is left at once (the loader finishes it on the next page).
(function () {
  "use strict";
  var link = document.querySelector("[data-sd=demo-sign-out]");
  if (!link) { return; }
  link.addEventListener("click", function () {
    if (window.SupportDesk && typeof window.SupportDesk.reset === "function") {
      window.SupportDesk.reset();
    }
  });
}());
