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
      var filters = document.getElementById("list-filters");
      if (selector === "#queue" && element && filters && window.htmx) {
        // The list as the filters and the tab now stand (not as they stood when the list
        // was last drawn): a refresh racing a tab click never brings the old tab back.
        var query = new URLSearchParams(new FormData(filters)).toString();
        var pending = window.htmx.ajax("GET", filters.getAttribute("action") + "?" + query,
          { source: element, target: "#queue", swap: "outerHTML" });
        // A refresh overtaken by a newer one (hx-sync) is aborted: not an error.
        if (pending && pending.catch) pending.catch(function () {});
        return;
      }
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
      case "note":
        if (frame.conversation_id === open) refresh("#transcript");
        break;
      case "agent.notice":
        var noticeTitle = frame.kind === "note" ? "You were mentioned in a note" : "A conversation was given to you";
        showNotice(noticeTitle, frame.text, frame.conversation_id);
        notify(noticeTitle, frame.text, frame.conversation_id);
        refresh("#queue");
        break;
      case "queue.changed":
      case "conversation.updated":
        alertFor(frame);
        refresh("#queue");
        settleQueue();
        if (frame.type === "queue.changed" && frame.conversation &&
            frame.conversation.conversation_id === open) {
          refreshOpenConversation(frame.conversation);
        }
        break;
      default:
        break;
    }
  }

  // The open conversation changed: its head is drawn again; when it has just become mine or
  // stopped being mine (a claim, a transfer to me, an unassign), the whole pane, so that the
  // reply box appears for its new owner and goes for the one who lost it.
  function refreshOpenConversation(summary) {
    var pane = document.getElementById("conversation");
    var head = document.getElementById("conversation-head");
    var mineNow = summary.assignee_id === me && summary.status === "agent";
    var mineShown = pane && pane.getAttribute("data-mine") === "1";
    if (!pane || !head || !window.htmx || mineNow === mineShown) {
      refresh("#conversation-head");
      return;
    }
    var pending = window.htmx.ajax("GET", head.getAttribute("hx-get"),
      { source: pane, target: "#conversation", swap: "outerHTML" });
    if (pending && pending.catch) pending.catch(function () {});
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
    // A refused action (a claim another agent won a moment before) is also told in a notice:
    // the live refresh that follows redraws the pane's head, and its error line with it.
    var xhr = event.detail && event.detail.xhr;
    if (xhr && xhr.status >= 400) {  // a refusal drawn in place (400 or 422)
      var error = document.querySelector("#conversation [data-sd=console-error]");
      if (error && error.textContent.trim()) showNotice("Not done", error.textContent.trim());
    }
  });
  // Back and Forward between conversations draw the page anew; a jump within the page (the
  // "Skip to content" link's #main) changes no conversation and redraws nothing.
  var shownAt = window.location.pathname + window.location.search;
  document.body.addEventListener("htmx:pushedIntoHistory", function () {
    shownAt = window.location.pathname + window.location.search;
  });
  window.addEventListener("popstate", function () {
    if (window.location.pathname + window.location.search === shownAt) return;
    window.location.reload();
  });

  // Enter sends, Shift+Enter adds a line; typing tells the customer (at most every 2 s).
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("[data-sd=reply-text]")) return;
    if (pickerKey(event, box)) return;
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
    var source = button.closest("li").querySelector(".article-text");
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

  // --- Notifications: asked for on a button; a new handoff, a customer message in a
  // conversation of mine, a mention or a transfer to me. An optional sound (Web Audio).
  var me = parseInt(root.getAttribute("data-me"), 10);
  var notifyButton = root.querySelector("[data-sd=notify-enable]");
  var soundBox = root.querySelector("[data-sd=notify-sound]");
  var audio = null;

  function notificationsOn() {
    return "Notification" in window && Notification.permission === "granted" &&
      window.localStorage.getItem("sd-notify") !== "off";
  }
  function showNotifyState() {
    if (!notifyButton) return;
    if (!("Notification" in window)) {
      notifyButton.disabled = true;
      notifyButton.textContent = "No notifications in this browser";
      return;
    }
    var on = notificationsOn();
    notifyButton.setAttribute("aria-pressed", on ? "true" : "false");
    notifyButton.textContent = on ? "Notifications on" :
      (Notification.permission === "denied" ? "Notifications blocked" : "Turn on notifications");
  }
  if (notifyButton) {
    notifyButton.addEventListener("click", function () {
      if (!("Notification" in window)) return;
      if (notificationsOn()) {
        window.localStorage.setItem("sd-notify", "off");
        showNotifyState();
        return;
      }
      window.localStorage.removeItem("sd-notify");
      Notification.requestPermission().then(showNotifyState);
    });
  }
  if (soundBox) {
    soundBox.checked = window.localStorage.getItem("sd-sound") === "on";
    soundBox.addEventListener("change", function () {
      window.localStorage.setItem("sd-sound", soundBox.checked ? "on" : "off");
      if (soundBox.checked) beep();
    });
  }
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.35);
    } catch (err) { /* no audio: nothing to do */ }
  }
  // A mention or a transfer to me is also shown in the page (a polite live region), desktop
  // notifications on or not: the newest first, at most three, each dismissable. Text only.
  var noticeBox = root.querySelector("[data-sd=notices]");
  function showNotice(title, body, conversationId) {
    if (!noticeBox) return;
    var item = document.createElement("div");
    item.className = "console-notice";
    item.setAttribute("data-sd", "in-page-notice");
    var head = document.createElement("strong");
    head.textContent = title;
    item.appendChild(head);
    if (body) {
      var text = document.createElement("span");
      text.className = "console-notice-text";
      text.textContent = body;
      item.appendChild(text);
    }
    if (conversationId !== undefined && conversationId !== null && conversationId !== "") {
      var link = document.createElement("a");
      link.href = "/console/conversations/" + encodeURIComponent(String(conversationId)) + "/";
      link.textContent = "Open the conversation";
      link.setAttribute("data-sd", "notice-open");
      item.appendChild(link);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary small";
    close.textContent = "Dismiss";
    close.setAttribute("aria-label", "Dismiss: " + title);
    close.setAttribute("data-sd", "notice-dismiss");
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    noticeBox.insertBefore(item, noticeBox.firstChild);
    while (noticeBox.children.length > 3) noticeBox.removeChild(noticeBox.lastChild);
  }
  // The last notice, for tests and for anyone without desktop notifications.
  function notify(title, body, conversationId) {
    root.setAttribute("data-last-notice", title);
    if (soundBox && soundBox.checked) beep();
    if (!notificationsOn() || (document.hasFocus() && openConversationId() === conversationId)) return;
    try {
      var n = new Notification(title, { body: body || "", tag: "sd-" + conversationId });
      n.onclick = function () {
        window.focus();
        window.location.href = "/console/conversations/" + conversationId + "/";
      };
    } catch (err) { /* a browser that refuses: the title count still shows it */ }
  }
  function alertFor(frame) {
    var c = frame.conversation;
    if (!c) return;
    // Word the notice by what happened: only a handoff is a new customer waiting; a
    // conversation an agent unassigned is back in the queue (frame.change, docs/protocol.md).
    if (frame.type === "queue.changed" && c.status === "waiting" && !c.assignee_id) {
      if (frame.change === "handoff" || frame.change === "reopened") {
        notify("A customer is waiting", c.handoff_reason || c.intent || "", c.conversation_id);
      } else if (frame.change === "unassigned") {
        notify("Back in the queue", "Conversation " + c.conversation_id +
          " was unassigned and waits for an agent.", c.conversation_id);
      }
    } else if (frame.type === "conversation.updated" && frame.author === "customer" &&
               c.assignee_id === me && c.status === "agent") {
      notify("New message from your customer", c.intent || "", c.conversation_id);
    }
  }
  showNotifyState();

  // --- Canned responses: "/" then a shortcut in the reply box suggests them. --------------
  var pickerTimer = null;
  function picker() { return document.querySelector("[data-sd=canned-picker]"); }
  function slashWord(box) {
    var before = box.value.slice(0, box.selectionStart || 0);
    var match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { query: match[2], start: before.length - match[2].length - 1 } : null;
  }
  function closePicker() {
    var list = picker();
    if (list) { list.hidden = true; list.innerHTML = ""; }
  }
  function updatePicker(box) {
    var word = slashWord(box);
    if (!word) { closePicker(); return; }
    clearTimeout(pickerTimer);
    pickerTimer = setTimeout(function () {
      var url = root.getAttribute("data-canned-url") + "?q=" + encodeURIComponent(word.query) +
        "&conversation=" + (openConversationId() || "");
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var list = picker();
          if (!list) return;
          var parsed = new DOMParser().parseFromString(html, "text/html");
          list.replaceChildren.apply(list, Array.prototype.slice.call(parsed.body.querySelectorAll("li")));
          list.hidden = !list.children.length;
          var first = list.querySelector("[data-canned-text]");
          if (first) first.setAttribute("aria-selected", "true");
        });
    }, 120);
  }
  function insertCanned(box, item) {
    var word = slashWord(box);
    var text = item.querySelector("[data-canned-text]") ? item.querySelector("[data-canned-text]").textContent
      : item.getAttribute("data-canned-value");
    var start = word ? word.start : (box.selectionStart || 0);
    var end = box.selectionStart || 0;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.selectionStart = box.selectionEnd = start + text.length;
    box.focus();
    closePicker();
  }
  function pickerKey(event, box) {
    var list = picker();
    if (!list || list.hidden) return false;
    var items = Array.prototype.slice.call(list.querySelectorAll("li[data-canned]"));
    if (!items.length) return false;
    var index = items.findIndex(function (li) { return li.getAttribute("aria-selected") === "true"; });
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (index >= 0) items[index].setAttribute("aria-selected", "false");
      index = (index + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items[index].setAttribute("aria-selected", "true");
      items[index].scrollIntoView({ block: "nearest" });
      return true;
    }
    if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      insertCanned(box, items[Math.max(0, index)]);
      return true;
    }
    if (event.key === "Escape") { event.preventDefault(); closePicker(); return true; }
    return false;
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-sd=reply-text]")) updatePicker(event.target);
  });
  document.addEventListener("mousedown", function (event) {
    var item = event.target.closest && event.target.closest("[data-sd=canned-picker] li[data-canned]");
    if (!item) return;
    event.preventDefault();
    var box = document.querySelector("[data-sd=reply-text]");
    if (box) insertCanned(box, item);
  });

  // --- Tabs keep the filters' tab in step (the filter form sits outside the list). --------
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest(".tabs [data-tab]");
    if (!tab) return;
    var hidden = document.querySelector("[data-sd=list-tab]");
    if (hidden) hidden.value = tab.getAttribute("data-tab");
  });

  // --- Keyboard shortcuts; "?" lists them. Never while typing in a box. --------------------
  var help = document.querySelector("[data-sd=shortcut-help]");
  function openHelp() { if (help && !help.open) help.showModal(); }
  var helpButton = document.querySelector("[data-sd=shortcut-help-open]");
  if (helpButton) helpButton.addEventListener("click", openHelp);
  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("[data-sd=queue-item] > a"));
    if (!links.length) return;
    var open = openConversationId();
    var at = links.findIndex(function (a) {
      return parseInt(a.parentElement.getAttribute("data-conversation-id"), 10) === open;
    });
    var next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + step));
    links[next].click();
    links[next].focus();
  }
  function press(selector) {
    var button = document.querySelector(selector);
    if (button) button.click();
  }
  document.addEventListener("keydown", function (event) {
    var t = event.target;
    if (event.key === "Escape" && t.matches && t.matches("input, textarea, select")) { t.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (t.matches && (t.matches("input, textarea, select, [contenteditable]") || (help && help.open))) return;
    switch (event.key) {
      case "?": event.preventDefault(); openHelp(); break;
      case "j": event.preventDefault(); move(1); break;
      case "k": event.preventDefault(); move(-1); break;
      case "c": event.preventDefault(); press("[data-sd=claim]"); break;
      case "e": event.preventDefault(); press("[data-sd=resolve]"); break;
      case "r": {
        var reply = document.querySelector("[data-sd=reply-text]");
        if (reply) { event.preventDefault(); reply.focus(); }
        break;
      }
      case "/": {
        var box = document.querySelector("[data-sd=reply-text]");
        if (box) {
          event.preventDefault();
          box.focus();
          var at = box.selectionStart || box.value.length;
          var lead = at && !/\s$/.test(box.value.slice(0, at)) ? " /" : "/";
          box.value = box.value.slice(0, at) + lead + box.value.slice(at);
          box.selectionStart = box.selectionEnd = at + lead.length;
          updatePicker(box);
        }
        break;
      }
      case "n": {
        var note = document.querySelector("[data-sd=note-input]");
        if (note) {
          event.preventDefault();
          var details = note.closest("details");
          if (details) details.open = true;
          note.focus();
        }
        break;
      }
      default: break;
    }
  });

  var transcript = document.getElementById("transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;
  showWaitingCount();
  connect();
})();
