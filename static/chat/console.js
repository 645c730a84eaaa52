// The agent console's live side: one WebSocket to /ws/console/, htmx fragment refreshes,
// the customer's typing indicator, Enter-to-send and article insertion. No inline script:
// the page's CSP forbids it.
(function () {
  "use strict";

  var root = document.querySelector("[data-sd=console]");
  if (!root) return;
  var live = root.querySelector("[data-sd=live-status]");
  var socket = null;
  var attempt = 0;
  var typingTimer = null;
  var lastTypingSent = 0;
  var refreshTimers = {};

  function openConversationId() {
    var pane = document.getElementById("conversation");
    var id = pane && pane.getAttribute("data-conversation-id");
    return id ? parseInt(id, 10) : null;
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function watchOpenConversation() {
    send({ type: "watch", conversation_id: openConversationId() });
  }

  // Coalesce bursts of events into one request per fragment.
  function refresh(selector) {
    if (refreshTimers[selector]) return;
    refreshTimers[selector] = setTimeout(function () {
      delete refreshTimers[selector];
      var element = document.querySelector(selector);
      if (element && window.htmx) window.htmx.trigger(element, "refresh");
    }, 120);
  }

  function showCustomerTyping(isTyping) {
    var indicator = document.querySelector("[data-sd=customer-typing]");
    if (!indicator) return;
    indicator.hidden = !isTyping;
    clearTimeout(typingTimer);
    if (isTyping) {
      typingTimer = setTimeout(function () { indicator.hidden = true; }, 6000);
    }
  }

  // Frames: ready, watching, error; of the open conversation (with conversation_id):
  // message, typing, handoff, conversation; of the queue: queue.changed, conversation.updated.
  function onFrame(frame) {
    var open = openConversationId();
    switch (frame.type) {
      case "ready":
        live.textContent = "Live";
        attempt = 0;
        watchOpenConversation();
        refresh("#queue");
        break;
      case "typing":
        if (frame.author === "customer" && frame.conversation_id === open) {
          showCustomerTyping(!!frame.is_typing);
        }
        break;
      case "message":
        if (frame.conversation_id === open) {
          if (frame.author === "customer") showCustomerTyping(false);
          refresh("#transcript");
        }
        break;
      case "handoff":
      case "conversation":
        if (frame.conversation_id === open) {
          refresh("#transcript");
          refresh("#conversation-head");
        }
        refresh("#queue");
        break;
      case "queue.changed":
      case "conversation.updated":
        refresh("#queue");
        settleQueue();
        if (frame.type === "queue.changed" && frame.conversation &&
            frame.conversation.conversation_id === open) {
          refresh("#conversation-head");
        }
        break;
      default:
        break;
    }
  }

  // The server sends one queue update per conversation per period and drops the rest of a
  // burst: one more refresh a little after the last update shows where the burst ended.
  var settleTimer = null;
  function settleQueue() {
    var delay = parseInt(root.getAttribute("data-queue-settle-ms"), 10) || 1250;
    if (settleTimer) clearTimeout(settleTimer);
    settleTimer = setTimeout(function () { settleTimer = null; refresh("#queue"); }, delay);
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + root.getAttribute("data-ws-path"));
    socket.addEventListener("message", function (event) {
      try { onFrame(JSON.parse(event.data)); } catch (err) { /* ignore a bad frame */ }
    });
    socket.addEventListener("close", function () {
      live.textContent = "Reconnecting…";
      attempt += 1;
      var delay = Math.min(30000, 500 * Math.pow(2, attempt)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  // The tab's title counts the customers waiting for a person: "(2) Console · SupportDesk".
  var baseTitle = document.title;
  function showWaitingCount() {
    var waiting = document.querySelectorAll("[data-sd=queue-item][data-status=waiting]").length;
    document.title = (waiting ? "(" + waiting + ") " : "") + baseTitle;
  }

  // Tell the server which conversation is open after htmx swaps the pane in.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    showWaitingCount();
    var target = event.detail && event.detail.target;
    if (target && (target.id === "conversation" || target.closest && target.closest("#conversation"))) {
      watchOpenConversation();
    }
    var transcript = document.getElementById("transcript");
    if (transcript) transcript.scrollTop = transcript.scrollHeight;
  });
  window.addEventListener("popstate", function () { window.location.reload(); });

  // Enter sends, Shift+Enter adds a line; typing tells the customer (at most every 2 s).
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-sd=reply-text]")) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim()) box.form.requestSubmit();
    }
  });
  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("[data-sd=reply-text]")) return;
    var now = Date.now();
    if (now - lastTypingSent > 2000) {
      lastTypingSent = now;
      send({ type: "typing", is_typing: true });
    }
  });
  document.addEventListener("submit", function (event) {
    if (event.target.matches && event.target.matches("[data-sd=composer]")) {
      lastTypingSent = 0;
      send({ type: "typing", is_typing: false });
    }
  });

  // Insert an article's plain text at the cursor (textContent in, value out: never HTML).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-sd=insert-article]");
    if (!button) return;
    var source = button.parentElement.querySelector(".article-text");
    var box = document.querySelector("[data-sd=reply-text]");
    if (!source || !box) return;
    var text = source.textContent;
    var start = box.selectionStart || 0;
    var end = box.selectionEnd || 0;
    var before = box.value.slice(0, start);
    var glue = before && !/\n$/.test(before) ? "\n" : "";
    box.value = before + glue + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = (before + glue + text).length;
  });

  var transcript = document.getElementById("transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
  showWaitingCount();
  connect();
})();
