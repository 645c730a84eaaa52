/* SupportDesk widget loader. Embed with:
   <script src="https://HOST/static/chat/widget.js" data-widget="KEY" async></script>
   Adds a launcher button and the chat panel (an iframe served by SupportDesk, so the page's
   CSS and scripts cannot reach into it). Styles are set through the CSSOM, which strict
   Content-Security-Policies allow, rather than through a style sheet or style attributes. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-widget]");
  if (!script || window.SupportDeskWidget) { return; }
  var key = script.getAttribute("data-widget");
  if (!key) { return; }
  var host = new URL(script.src, window.location.href).origin;
  var panelUrl = host + "/widget/" + encodeURIComponent(key) + "/panel/";
  var panelId = "supportdesk-chat-panel";
  var openKey = "supportdesk-open:" + key;

  function css(el, styles) {
    Object.keys(styles).forEach(function (name) { el.style.setProperty(name, styles[name]); });
  }

  var launcher = document.createElement("button");
  launcher.type = "button";
  launcher.textContent = "Chat with us";
  launcher.setAttribute("data-sd", "launcher");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", panelId);
  css(launcher, {
    position: "fixed", right: "20px", bottom: "20px", "z-index": "2147483646",
    padding: "12px 18px", border: "0", "border-radius": "24px", background: "#1f4fd1",
    color: "#fff", font: "600 15px/1.2 system-ui, sans-serif", cursor: "pointer",
    "box-shadow": "0 4px 14px rgba(0,0,0,.25)"
  });

  // While the panel is open the launcher is its close button (a round "×").
  function launcherShows(isOpen) {
    launcher.setAttribute("aria-expanded", isOpen ? "true" : "false");
    if (isOpen) {
      launcher.textContent = "\u00d7";
      launcher.setAttribute("aria-label", "Close chat");
      css(launcher, { width: "52px", height: "52px", padding: "0", "font-size": "30px", "line-height": "1" });
    } else {
      launcher.textContent = "Chat with us";
      launcher.removeAttribute("aria-label");
      ["width", "height", "font-size", "line-height"].forEach(function (name) { launcher.style.removeProperty(name); });
      launcher.style.setProperty("padding", "12px 18px");
    }
  }

  // --- An e-mail's signed link (#sd_reopen=...) reopens that conversation in the panel ---------
  // The token comes in the address's fragment, which the browser sends to no server (a link
  // mailed before it moved there has it in the query). It is taken out of the address bar
  // (and so out of the page URL the panel is told) and handed to the panel by postMessage;
  // the panel opens, and the server checks it.
  var reopenToken = null;
  (function takeReopenToken() {
    try {
      var url = new URL(window.location.href);
      var inFragment = new URLSearchParams(url.hash.slice(1));
      var value = inFragment.get("sd_reopen") || url.searchParams.get("sd_reopen");
      if (!value) { return; }
      reopenToken = value;
      url.searchParams.delete("sd_reopen");
      inFragment.delete("sd_reopen");
      url.hash = inFragment.toString();
      window.history.replaceState(window.history.state, "", url.toString());
    } catch (e) { /* an old browser: no reopening */ }
  }());

  function sendReopen() {
    if (reopenToken && frame && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "supportdesk:reopen", link: reopenToken }, host);
      reopenToken = null;
    }
  }

  var frame = null;
  var frameReady = false;
  // Keys typed after the launcher's click while the panel still loads (a quick tap, no hover
  // before it): kept here, not lost to the page (nor a space or Enter pressing the launcher
  // again), and put in the panel's message box when it is ready. Never sent by themselves:
  // the customer sees them in the box and sends them. null while not collecting.
  var typedEarly = null;

  function collectKey(event) {
    var at = document.activeElement;
    if (at !== launcher && at !== frame && at !== document.body) { return; }  // a field of the page
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) { return; }
    if (event.key.length === 1) {
      typedEarly += event.key;
    } else if (event.key === "Backspace") {
      typedEarly = typedEarly.slice(0, -1);
    } else if (event.key !== "Enter") {
      return;
    }
    event.preventDefault();
  }

  function stopCollecting() {
    document.removeEventListener("keydown", collectKey, true);
    var text = typedEarly;
    typedEarly = null;
    return text;
  }
  var small = window.matchMedia("(max-width: 480px)");

  function place() {
    if (!frame) { return; }
    if (small.matches) {
      css(frame, { right: "0", bottom: "0", width: "100%", height: "100%", "border-radius": "0" });
    } else {
      css(frame, {
        right: "20px", bottom: "80px", width: "370px", height: "560px",
        "max-height": "calc(100vh - 100px)", "border-radius": "12px"
      });
    }
  }

  function ensureFrame() {
    if (frame) { return frame; }
    frame = document.createElement("iframe");
    frame.id = panelId;
    frame.title = "Chat with customer support";
    frame.src = panelUrl;
    frame.setAttribute("data-sd", "panel");
    css(frame, {
      position: "fixed", border: "0", "z-index": "2147483647", background: "#fff",
      "box-shadow": "0 8px 30px rgba(0,0,0,.3)", display: "none"
    });
    place();
    frame.addEventListener("load", function () {
      frameReady = true;
      sendPage();
      sendReset();  // before the identity: a customer who signed in since starts afresh
      sendIdentity();
      sendReopen();
      var typed = stopCollecting();
      if (frame.style.display !== "none") {
        frame.focus();  // only now: a frame focused while loading takes the keys and loses them
        if (typed) { frame.contentWindow.postMessage({ type: "supportdesk:typed", text: typed }, host); }
        frame.contentWindow.postMessage(openMessage(), host);
      }
    });
    document.body.appendChild(frame);
    return frame;
  }

  function open() {
    ensureFrame();
    if (!frameReady && typedEarly === null) {
      typedEarly = "";
      document.addEventListener("keydown", collectKey, true);
    }
    frame.style.setProperty("display", "block");
    launcherShows(true);
    if (small.matches) { launcher.style.setProperty("display", "none"); }
    try { window.sessionStorage.setItem(openKey, "1"); } catch (e) { /* ignore */ }
    if (frameReady) { frame.focus(); }  // else on its load, the keys kept meanwhile with it
    sendPage();  // a single-page site may have moved since the panel loaded
    frame.contentWindow.postMessage(openMessage(), host);
  }

  // The panel shows its own close button only full-screen (a phone), where the launcher is
  // hidden; beside the launcher (which then reads "×") one close button is enough.
  function openMessage() {
    return { type: "supportdesk:open", closeInPanel: small.matches };
  }

  function close() {
    if (!frame) { return; }
    stopCollecting();
    frame.style.setProperty("display", "none");
    launcher.style.setProperty("display", "block");
    launcherShows(false);
    try { window.sessionStorage.removeItem(openKey); } catch (e) { /* ignore */ }
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (launcher.getAttribute("aria-expanded") === "true") { close(); } else { open(); }
  });
  // The panel loads as soon as the customer shows they are about to open it (the pointer on
  // the launcher, a touch, keyboard focus), so that its message box is ready for their first
  // keys when they do: loaded on the click itself, it took the first letters typed after it
  // ~0.2 s later. It stays hidden until then: a new visitor's conversation starts when they
  // write; a returning customer's rejoins, as after the panel was opened and closed.
  ["pointerenter", "touchstart", "focus"].forEach(function (type) {
    launcher.addEventListener(type, ensureFrame, { once: true, passive: true });
  });
  window.addEventListener("message", function (event) {
    if (event.origin === host && event.data && event.data.type === "supportdesk:close") { close(); }
  });
  function relayout() {
    place();
    if (!frame || frame.style.display === "none") { return; }
    launcher.style.setProperty("display", small.matches ? "none" : "block");
    if (frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "supportdesk:layout", closeInPanel: small.matches }, host);
    }
  }
  if (small.addEventListener) { small.addEventListener("change", relayout); }

  function mount() {
    document.body.appendChild(launcher);
    var wasOpen = false;
    try { wasOpen = window.sessionStorage.getItem(openKey) === "1"; } catch (e) { /* ignore */ }
    if (wasOpen || reopenToken) { open(); }
  }
  // --- The host page, for the agents' "Started on" -------------------------------------------
  // The panel is a frame whose own URL says nothing about where the customer is, so the loader
  // tells it the host page's address (without its #fragment, where sign-in flows put tokens)
  // and title, by postMessage to the panel's origin only; never in the frame's src, which
  // would land in server logs. The server checks both (chat.services.check_origin_info).
  function sendPage() {
    if (!frame || !frame.contentWindow) { return; }
    var url = window.location.href.split("#")[0];
    frame.contentWindow.postMessage(
      { type: "supportdesk:page", url: url, title: document.title || "" }, host
    );
  }

  // --- Verified identity: the host page's signed customer, passed to the panel ---------------
  // data-user-id, data-user-email, data-user-name and data-user-hash (hex HMAC-SHA256 of the
  // id with the widget's secret) on the snippet, or window.SupportDesk.identify({...}).
  var identity = null;

  function identityFromSnippet() {
    var id = script.getAttribute("data-user-id");
    var hash = script.getAttribute("data-user-hash");
    // An id without its hash still goes to the server, which refuses and logs it: a snippet
    // that forgot the hash shows in the desk's log, not nowhere.
    if (!id) { return null; }
    return {
      id: id, hash: hash || "",
      email: script.getAttribute("data-user-email") || "",
      name: script.getAttribute("data-user-name") || ""
    };
  }

  function sendIdentity() {
    if (identity && frame && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "supportdesk:identify", user: identity }, host);
    }
  }

  function identify(user) {
    if (!user || typeof user.id !== "string") { return false; }
    identity = {
      id: user.id, hash: typeof user.hash === "string" ? user.hash : "",
      email: typeof user.email === "string" ? user.email : "",
      name: typeof user.name === "string" ? user.name : ""
    };
    sendIdentity();  // a panel not made yet gets it when it loads
    return true;
  }

  // The host page's customer signs out: the panel forgets their conversation (as Intercom's
  // shutdown and Chatwoot's reset), so that the next visitor on this browser never sees it.
  // The wish is kept in the host site's own storage until the panel confirms it (it may not be
  // made yet, or the page may go away first); the next page's panel gets it when it loads.
  var resetKey = "supportdesk-reset:" + key;

  function sendReset() {
    var wanted = false;
    try { wanted = window.localStorage.getItem(resetKey) === "1"; } catch (e) { /* ignore */ }
    if (wanted && frame && frame.contentWindow) {
      frame.contentWindow.postMessage({ type: "supportdesk:reset" }, host);
    }
  }

  function reset() {
    identity = null;
    try { window.localStorage.setItem(resetKey, "1"); } catch (e) { /* ignore */ }
    sendReset();
    return true;
  }

  window.addEventListener("message", function (event) {
    if (event.origin === host && event.data && event.data.type === "supportdesk:reset-done") {
      try { window.localStorage.removeItem(resetKey); } catch (e) { /* ignore */ }
    }
  });

  identity = identityFromSnippet();
  window.SupportDesk = { identify: identify, reset: reset };
  window.SupportDeskWidget = { open: open, close: close };
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
}());
