/* SupportDesk chat panel: runs inside the iframe the loader (widget.js) adds to a page.
   Protocol: docs/protocol.md. Customer and agent text is set with textContent; a bot or
   system message shows its "html" (Markdown the server rendered and sanitised), passed once
   more through a small allow-list here before it enters the page. */
(function () {
  "use strict";

  var root = document.getElementById("sd-panel");
  if (!root) { return; }
  var key = root.getAttribute("data-widget");
  var apiUrl = root.getAttribute("data-api");
  var reopenUrl = root.getAttribute("data-reopen-api");
  var identifyUrl = root.getAttribute("data-identify-api");
  var wsPath = root.getAttribute("data-ws-path");
  var maxChars = parseInt(root.getAttribute("data-max-chars"), 10) || 2000;
  var storeKey = "supportdesk-chat:" + key;

  function q(name) { return root.querySelector('[data-sd="' + name + '"]'); }
  var log = q("log"), input = q("input"), compose = q("compose"), typingEl = q("typing");
  var noticeEl = q("notice"), connEl = q("connection"), contactForm = q("contact-form");
  var ratingForm = q("rating-form"), lateEl = q("late"), lateText = q("late-text");
  var askPerson = q("ask-person"), replyTimeEl = q("reply-time"), quickBox = q("quick-replies");
  var stars = Array.prototype.slice.call(root.querySelectorAll("[data-sd=rating-star]"));
  var contactItem = null;   // the transcript line that holds the e-mail form

  var state = load();
  var ws = null, joined = false, attempts = 0, reconnectTimer = null, creating = null;
  var status = "bot", rated = false, typingSent = false, typingTimer = null;
  var renderedSeq = 0;   // highest seq shown on this page; a reload shows the transcript anew
  var shownSeqs = {};    // seq -> true for every message on this page (gaps are asked for again)
  var streaming = {};    // reply_to seq -> element growing from message.delta frames
  var retryTimer = null, retryAttempts = 0;   // resending after a server_error
  var rateTimer = null;                        // resending after rate_limited (one at a time)
  var owedSince = {};    // "seq:N" or "cid:UUID" -> ms since the customer's message awaits an answer
  var lateTimer = null, resyncing = false;

  var LATE_AFTER_MS = 15000;      // an answer this late: say so and offer a person
  var ACK_WAIT_MS = 10000;        // a message with no echo this long is sent again
  var ASK_PERSON_TEXT = "I would like to talk to a person, please.";
  var RATE_NOTICE = "You are sending messages quickly; we will send the rest in a moment.";

  // Whitespace, format (Cf) and filler characters: a message of these alone shows nothing.
  var INVISIBLE_ONLY = /^[\s\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u2800\u3164\uFE00-\uFE0F\uFEFF\uFFA0]*$/;

  function load() {
    var empty = { conversationId: null, token: null, lastSeq: 0, pending: [] };
    try {
      var saved = JSON.parse(window.localStorage.getItem(storeKey));
      // Conversation ids are public UUIDs (strings); a number saved by an older panel is
      // not one, and that conversation is left for a new one.
      if (saved && typeof saved.conversationId === "string" && saved.conversationId) {
        saved.pending = saved.pending || [];
        return saved;
      }
    } catch (e) { /* private mode or bad JSON: start afresh */ }
    return empty;
  }
  function save() {
    try { window.localStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* ignore */ }
  }

  function uuid() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // The notice bar shows the latest of the notices that still hold, one per kind: "status" (what
  // happens in the conversation: notice()) and each refusal that goes once the customer mends
  // what it refused (a message or comment over the limit, a rating without stars). A refusal
  // that goes uncovers the notice it covered ("This conversation is resolved."), never clears
  // it.
  var notices = [];   // {kind, text}, oldest first
  function showNotice(kind, text) {
    notices = notices.filter(function (n) { return n.kind !== kind; });
    if (text) { notices.push({ kind: kind, text: text }); }
    var latest = notices.length ? notices[notices.length - 1].text : "";
    noticeEl.textContent = latest;
    noticeEl.hidden = !latest;
  }
  function noticeOf(kind) {
    var found = notices.filter(function (n) { return n.kind === kind; })[0];
    return found ? found.text : "";
  }
  // Clears the notice of ``kind`` if it (still) says ``text``.
  function clearNotice(kind, text) {
    if (text && noticeOf(kind) === text) { showNotice(kind, ""); }
  }
  function notice(text) { showNotice("status", text); }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  // --- Messages -------------------------------------------------------------------------------

  var LABELS = { customer: "You", bot: "Assistant", agent: "Agent", system: "" };

  // --- Rich text (bot and system messages) -----------------------------------------------------

  // A second line of defence behind the server's sanitiser: only these elements and
  // attributes survive; links go to http(s), mailto or this site's help pages, in a new tab.
  var RICH_TAGS = {
    P: 1, BR: 1, HR: 1, H1: 1, H2: 1, H3: 1, H4: 1, H5: 1, H6: 1, STRONG: 1, EM: 1, B: 1, I: 1,
    S: 1, DEL: 1, CODE: 1, PRE: 1, BLOCKQUOTE: 1, UL: 1, OL: 1, LI: 1, A: 1, TABLE: 1,
    THEAD: 1, TBODY: 1, TR: 1, TH: 1, TD: 1
  };
  var RICH_ATTRS = { A: ["href", "title"], OL: ["start"], TH: ["align"], TD: ["align"] };
  var SAFE_HREF = /^(?:https?:\/\/|mailto:|\/help\/articles\/[^\\:]*$)/i;

  function cleanTree(node) {
    var children = Array.prototype.slice.call(node.childNodes);
    children.forEach(function (child) {
      if (child.nodeType === 3) { return; }                   // text
      if (child.nodeType !== 1 || !RICH_TAGS[child.tagName]) {
        // An element outside the list leaves only its text (a script or style, nothing).
        var keep = child.nodeType === 1 &&
          !/^(SCRIPT|STYLE|TEMPLATE|IFRAME|OBJECT|SVG|MATH)$/i.test(child.tagName);
        if (keep) { node.replaceChild(document.createTextNode(child.textContent), child); }
        else { node.removeChild(child); }
        return;
      }
      var allowed = RICH_ATTRS[child.tagName] || [];
      Array.prototype.slice.call(child.attributes).forEach(function (attr) {
        if (allowed.indexOf(attr.name) < 0) { child.removeAttribute(attr.name); }
      });
      if (child.tagName === "A") {
        var href = child.getAttribute("href") || "";
        if (!SAFE_HREF.test(href) || href.indexOf("..") >= 0) { child.removeAttribute("href"); }
        child.setAttribute("target", "_blank");
        child.setAttribute("rel", "noopener noreferrer nofollow");
      }
      cleanTree(child);
    });
  }

  function richText(html) {
    var box = document.createElement("div");
    box.className = "sd-text sd-rich";
    var template = document.createElement("template");   // inert: nothing runs or loads
    template.innerHTML = html;
    cleanTree(template.content);
    box.appendChild(template.content);
    keepWordsWhole(box);
    return box;
  }

  // A short hyphenated word ("e-mail", "follow-up") never breaks at its hyphen: it goes in a
  // no-wrap span. Not inside a link, code or an address (a path's "very-long-segment" may
  // break anywhere), nor a word so long that it could not fit a line.
  // The character before the word is matched (group 1), not looked behind at: a lookbehind
  // would stop the whole script parsing on Safari before 16.4.
  var HYPHENATED = /(^|[^\p{L}\p{N}\p{M}\/.:@_~%+=&?#-])([\p{L}\p{N}][\p{L}\p{N}\p{M}]*(?:-[\p{L}\p{N}][\p{L}\p{N}\p{M}]*)+)(?![\p{L}\p{N}\p{M}\/@_~%+=&?#-]|\.[\p{L}\p{N}])/gu;
  var HYPHENATED_MAX = 24;
  function keepWordsWhole(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentNode.closest("a, code, pre, .sd-nowrap")
          ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    var texts = [];
    for (var node = walker.nextNode(); node; node = walker.nextNode()) { texts.push(node); }
    texts.forEach(function (text) {
      var data = text.data, at = 0, parts = document.createDocumentFragment(), found = false;
      data.replace(HYPHENATED, function (match, before, word, index) {
        if (word.length > HYPHENATED_MAX) { return match; }
        found = true;
        index += before.length;
        if (index > at) { parts.appendChild(document.createTextNode(data.slice(at, index))); }
        var keep = document.createElement("span");
        keep.className = "sd-nowrap";
        keep.textContent = word;
        parts.appendChild(keep);
        at = index + word.length;
        return match;
      });
      if (!found) { return; }
      if (at < data.length) { parts.appendChild(document.createTextNode(data.slice(at))); }
      text.parentNode.replaceChild(parts, text);
    });
  }

  // Plain text (a customer's or an agent's, a draft) into ``el``: as text, never as HTML.
  function setPlainText(el, text) {
    el.textContent = text;
    keepWordsWhole(el);
  }

  // Up to two initials for an avatar ("Dana Reyes" -> "DR"), when the frame has none.
  function initialsOf(name) {
    var words = String(name || "").split(/\s+/).filter(function (w) { return /[\p{L}\p{N}]/u.test(w); });
    if (!words.length) { return ""; }
    function first(w) { return w.match(/[\p{L}\p{N}]/u)[0]; }
    return (first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : "")).toUpperCase();
  }

  // "14:05" in the customer's own clock and language; "" for a missing or bad time.
  function clockTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) { return ""; }
    try { return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); }
    catch (e) { return ""; }
  }

  // A message: a meta line (avatar for an agent, author, time), then the text. Consecutive
  // messages of one author share the first one's meta line (see regroup).
  function messageElement(author, text, senderName, html, createdAt, senderInitials) {
    var li = document.createElement("li");
    li.className = "sd-msg sd-author-" + author;
    li.setAttribute("data-sd", "message");
    li.setAttribute("data-author", author);
    li.setAttribute("dir", "auto");
    var who = LABELS[author] === undefined ? "" : LABELS[author];
    if (author === "agent" && senderName) { who = senderName; }
    li.setAttribute("data-who", who);
    var meta = document.createElement("div");
    meta.className = "sd-meta";
    if (author === "agent") {
      var avatar = document.createElement("span");
      avatar.className = "sd-avatar sd-avatar-sm";
      avatar.setAttribute("aria-hidden", "true");
      avatar.setAttribute("data-sd", "agent-initials");
      avatar.textContent = senderInitials || initialsOf(who);
      meta.appendChild(avatar);
    }
    if (who) {
      var label = document.createElement("span");
      label.className = "sd-who";
      label.setAttribute("dir", "auto");
      if (author === "agent") { label.setAttribute("data-sd", "sender-name"); }
      label.textContent = who;
      meta.appendChild(label);
    }
    var when = clockTime(createdAt);
    if (when) {
      var time = document.createElement("time");
      time.className = "sd-time";
      time.setAttribute("data-sd", "message-time");
      if (createdAt) { time.setAttribute("datetime", createdAt); }
      time.textContent = when;
      meta.appendChild(time);
    }
    li.appendChild(meta);
    if (html && (author === "bot" || author === "system")) {
      var rich = richText(html);
      rich.setAttribute("dir", "auto");
      li.appendChild(rich);
      return li;
    }
    var p = document.createElement("p");
    p.className = "sd-text";
    p.setAttribute("dir", "auto");
    setPlainText(p, text);
    li.appendChild(p);
    return li;
  }

  // Groups messages by author: a message right after one by the same author (and the same
  // agent) within GROUP_MS shows no meta line of its own (it stays for screen readers).
  var GROUP_MS = 5 * 60 * 1000;
  function regroup() {
    var items = log.querySelectorAll("li.sd-msg[data-author]");
    var previous = null;
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      var time = li.querySelector(".sd-time");
      var at = time && time.getAttribute("datetime") ? Date.parse(time.getAttribute("datetime")) : NaN;
      var same = previous && previous.li.getAttribute("data-author") === li.getAttribute("data-author") &&
        previous.li.getAttribute("data-who") === li.getAttribute("data-who") &&
        li.getAttribute("data-author") !== "system" &&
        (isNaN(at) || isNaN(previous.at) || at - previous.at < GROUP_MS);
      li.classList.toggle("sd-cont", !!same);
      if (!same) { previous = { li: li, at: at }; } else if (!isNaN(at)) { previous.at = at; }
    }
  }

  function insertBySeq(li, seq) {
    var items = log.querySelectorAll("[data-seq]");
    for (var i = 0; i < items.length; i++) {
      if (parseInt(items[i].getAttribute("data-seq"), 10) > seq) {
        log.insertBefore(li, items[i]);
        return;
      }
    }
    var firstPending = log.querySelector(".sd-pending");
    log.insertBefore(li, firstPending);
  }

  // "Did this help?" under the bot's latest answer from the knowledge base (not under its
  // questions or greetings).
  function addFeedback(li, m) {
    var old = log.querySelectorAll("[data-sd=feedback]");
    for (var i = 0; i < old.length; i++) { old[i].remove(); }
    if (status !== "bot" || !(m.articles && m.articles.length)) { return; }
    var seq = m.seq;
    var box = document.createElement("div");
    box.className = "sd-feedback";
    box.setAttribute("data-sd", "feedback");
    var ask = document.createElement("span");
    ask.textContent = "Did this help?";
    box.appendChild(ask);
    [["Yes", true], ["No", false]].forEach(function (choice) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = choice[0];
      b.setAttribute("data-sd", choice[1] ? "helpful-yes" : "helpful-no");
      b.addEventListener("click", function () {
        sendFrame({ type: "feedback", helpful: choice[1], seq: seq });
        box.remove();
        if (!choice[1]) { notice("Sorry about that. Tell us more, or ask to talk to a person."); }
        input.focus();
      });
      box.appendChild(b);
    });
    li.appendChild(box);
  }

  // The e-mail addresses the customer wrote in messages (shown in this conversation), oldest
  // first; those the server says order lookups found nothing for (``refused_emails`` of the
  // joined and handoff frames, lower case); what the e-mail form was last filled with.
  var typedEmails = [], refusedEmails = {}, offeredEmail = "";
  // An apostrophe belongs to a name (pat.o'neil@...), not around one: quotes are left out.
  var EMAIL_IN_TEXT = /[^\s@<>()\[\]{},;:"`\u2018\u2019\u201c\u201d\u00ab\u00bb]+@[^\s@<>()\[\]{},;:"'`\u2018\u2019\u201c\u201d\u00ab\u00bb]+\.[A-Za-z]{2,63}/g;
  function rememberTypedEmail(text) {
    var found = String(text || "").match(EMAIL_IN_TEXT) || [];
    found.forEach(function (address) {
      address = address.replace(/^'+/, "");
      if (address && address.charAt(0) !== "@" && address.length <= 254) { typedEmails.push(address); }
    });
    // The form may be up already (a reload shows it before the history that holds the
    // address): a later address replaces the one offered.
    if (found.length && !contactForm.hidden) { offerEmail(); }
  }
  function setRefusedEmails(list) {
    if (!Array.isArray(list)) { return; }
    refusedEmails = {};
    list.forEach(function (address) {
      if (typeof address === "string") { refusedEmails[address.toLowerCase()] = true; }
    });
    if (!contactForm.hidden) { offerEmail(); }
  }
  // The address the form offers: a signed-in customer's own (from the host page's signed
  // identity), else the latest the customer wrote that no order lookup refused (an order
  // lookup asks for one: they need not type it twice), else none. Never replaces what the
  // customer typed in the field.
  function offerEmail() {
    var field = contactForm.querySelector("[data-sd=contact-email]");
    if (field.value && field.value !== offeredEmail) { return; }
    var offer = state.verified && identity && identity.email ? identity.email : "";
    for (var i = typedEmails.length - 1; i >= 0 && !offer; i--) {
      if (!refusedEmails[typedEmails[i].toLowerCase()]) { offer = typedEmails[i]; }
    }
    field.value = offeredEmail = offer;
  }

  function showMessage(m) {
    if (log.querySelector('[data-seq="' + m.seq + '"]')) { return; }
    var li = null;
    if (m.author === "customer" && m.client_id) {
      retryAttempts = 0;
      li = log.querySelector('[data-client-id="' + m.client_id + '"]');
      state.pending = state.pending.filter(function (p) { return p.client_id !== m.client_id; });
      // The rest has been sent: the notice that said it would be goes.
      if (!state.pending.length) { clearNotice("status", RATE_NOTICE); }
    }
    if (li) {
      li.classList.remove("sd-pending");
      li.remove();
      // The stored text, as the server keeps it (a card number shows its last four digits).
      var own = li.querySelector(".sd-text");
      if (own && own.textContent !== m.text) { setPlainText(own, m.text); }
    } else {
      li = messageElement(m.author, m.text, m.sender_name, m.html, m.created_at, m.sender_initials);
    }
    if (m.author === "customer") { hideQuickReplies(m.seq); rememberTypedEmail(m.text); }
    if (m.reply_to && streaming[m.reply_to]) {
      streaming[m.reply_to].remove();
      delete streaming[m.reply_to];
    }
    li.setAttribute("data-seq", String(m.seq));
    if (m.reply_to && m.author !== "customer") { quoteLateQuestion(li, m); }
    insertBySeq(li, m.seq);
    regroup();
    placeContactItem();
    shownSeqs[m.seq] = true;
    if (m.author !== "customer") { showTyping(null); }
    if (m.author === "bot") { addFeedback(li, m); }
    showMessageReplies(li, m);
    showEmailed(li, m);
    if (m.seq > state.lastSeq) { state.lastSeq = m.seq; }
    if (m.seq > renderedSeq) { renderedSeq = m.seq; }
    trackOwed(m);
    save();
    scrollDown();
  }

  // An answer to a question that is not the customer's latest (it came late, after the customer
  // wrote again) shows which question it answers.
  function quoteLateQuestion(li, m) {
    var question = log.querySelector('[data-author=customer][data-seq="' + m.reply_to + '"]');
    if (!question) { return; }
    var customers = log.querySelectorAll("[data-author=customer][data-seq]");
    var latest = null;
    for (var i = 0; i < customers.length; i++) {
      var seq = parseInt(customers[i].getAttribute("data-seq"), 10);
      if (seq < m.seq) { latest = seq; }
    }
    if (latest === null || latest === m.reply_to) { return; }
    var text = question.querySelector(".sd-text").textContent;
    if (text.length > 90) { text = text.slice(0, 89) + "…"; }
    var quote = document.createElement("button");
    quote.type = "button";
    quote.className = "sd-quote";
    quote.setAttribute("data-sd", "reply-quote");
    quote.setAttribute("data-reply-to", String(m.reply_to));
    quote.textContent = "In reply to: “" + text + "”";
    quote.title = "Show the question";
    quote.addEventListener("click", function () {
      question.scrollIntoView({ block: "center" });
      question.classList.add("sd-highlight");
      setTimeout(function () { question.classList.remove("sd-highlight"); }, 1500);
    });
    var meta = li.querySelector(".sd-meta");
    li.insertBefore(quote, meta ? meta.nextSibling : li.firstChild);
  }

  // --- Late answers ---------------------------------------------------------------------------

  function trackOwed(m) {
    if (m.author === "customer") {
      var since = owedSince["cid:" + m.client_id];
      delete owedSince["cid:" + m.client_id];
      if (since === undefined) { since = Date.parse(m.created_at) || Date.now(); }
      if (status === "bot") { owedSince["seq:" + m.seq] = since; }
    } else if (m.reply_to) {
      delete owedSince["seq:" + m.reply_to];
    } else {
      // An agent's or a system message: whatever the customer wrote before has been seen to.
      Object.keys(owedSince).forEach(function (k) {
        if (k.indexOf("seq:") === 0 && parseInt(k.slice(4), 10) < m.seq) { delete owedSince[k]; }
      });
    }
    armLate();
  }

  function clearOwed() {
    owedSince = {};
    armLate();
  }

  // Shows the late notice once the oldest unanswered message is LATE_AFTER_MS old (while the bot
  // has the conversation), and hides it when every message has its answer.
  function armLate() {
    clearTimeout(lateTimer);
    var oldest = null;
    Object.keys(owedSince).forEach(function (k) {
      if (oldest === null || owedSince[k] < oldest) { oldest = owedSince[k]; }
    });
    if (oldest === null || status !== "bot") { lateEl.hidden = true; return; }
    var wait = oldest + LATE_AFTER_MS - Date.now();
    if (wait <= 0) {
      if (lateEl.hidden) {
        lateText.textContent = "This is taking longer than usual.";
        askPerson.hidden = false;
        lateEl.hidden = false;
        scrollDown();
        resync();
      }
      return;
    }
    lateEl.hidden = true;
    lateTimer = setTimeout(armLate, wait);
  }

  function showDelta(frame) {
    var li = streaming[frame.reply_to];
    if (!li) {
      li = messageElement("bot", "", "");
      li.setAttribute("data-sd", "message-draft");
      li.classList.add("sd-streaming");
      streaming[frame.reply_to] = li;
      log.appendChild(li);
    }
    setPlainText(li.querySelector(".sd-text"), frame.text);
    showTyping(null);
    scrollDown();
  }

  function showPending(item) {
    var li = messageElement("customer", item.text, "", null, new Date(item.sentAt || Date.now()).toISOString());
    li.classList.add("sd-pending");
    li.setAttribute("data-client-id", item.client_id);
    log.appendChild(li);
    regroup();
    hideQuickReplies();
    scrollDown();
  }

  function showTyping(author) {
    if (!author) { typingEl.hidden = true; typingEl.textContent = ""; return; }
    typingEl.textContent = (author === "agent" ? "The agent" : "The assistant") + " is typing…";
    typingEl.hidden = false;
  }

  // --- Conversation state ---------------------------------------------------------------------

  // The header's second line. While the bot has the conversation it answers at once, and the
  // line says so, then when the team would: in its typical first response while an agent is
  // online, else by e-mail. So too once the conversation is closed (resolved or abandoned): the
  // next message goes to the bot, and no reply is owed (not "We'll reply by e-mail" to a
  // customer who said the answer helped). Handed over, it tells the team's reply alone; with
  // an agent on the conversation, their typical reply. ``agentsOnline`` (a number, from the
  // joined, handoff and availability frames) updates the count kept on the element; without
  // it, the line follows ``status``.
  function showReplyTime(agentsOnline) {
    if (!replyTimeEl) { return; }
    if (typeof agentsOnline === "number") {
      replyTimeEl.setAttribute("data-agents-online", String(agentsOnline));
    }
    var online = (parseInt(replyTimeEl.getAttribute("data-agents-online"), 10) || 0) > 0;
    var minutes = parseInt(replyTimeEl.getAttribute("data-minutes"), 10) || 2;
    if (status === "bot" || status === "resolved" || status === "abandoned") {
      // On a narrow panel the line breaks after the dot, never inside "e-mail".
      var team = document.createElement("span");
      team.className = "sd-nowrap";
      team.textContent = online ? "team in about " + minutes + " min" : "team replies by e-mail";
      replyTimeEl.textContent = "Instant answers \u00b7 ";
      replyTimeEl.appendChild(team);
    } else {
      // A person has the conversation: not "we'll reply by e-mail" above a live chat.
      replyTimeEl.textContent = online || status === "agent"
        ? "Typically replies in " + minutes + " min"
        : "We\u2019ll reply by e-mail";
    }
  }

  // The customer wrote (the message ``beforeSeq``, or one not yet stored): the greeting's
  // topics go, and so do the buttons under bot messages older than it. (A bot reply can come
  // before the echo of the message it answers: its buttons stay.)
  function hideQuickReplies(beforeSeq) {
    if (quickBox) { quickBox.hidden = true; }
    var offered = log.querySelectorAll("[data-sd=message-replies]");
    for (var i = 0; i < offered.length; i++) {
      var seq = parseInt(offered[i].parentNode.getAttribute("data-seq"), 10);
      if (beforeSeq === undefined || !(seq > beforeSeq)) { offered[i].remove(); }
    }
  }

  // Buttons a bot message offers ("I don't have it" under a question for a missing detail),
  // only under the latest message and only while the bot has the conversation.
  function showMessageReplies(li, m) {
    var labels = Array.isArray(m.quick_replies) ? m.quick_replies : [];
    var latest = m.seq >= renderedSeq;
    if (latest) {
      var older = log.querySelectorAll("[data-sd=message-replies]");
      for (var i = 0; i < older.length; i++) { older[i].remove(); }
    }
    if (m.author !== "bot" || !labels.length || !latest || status !== "bot") { return; }
    var box = document.createElement("div");
    box.className = "sd-quick";
    box.setAttribute("data-sd", "message-replies");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Suggested answers");
    labels.forEach(function (label) {
      if (typeof label !== "string" || !label) { return; }
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sd-chip";
      b.setAttribute("data-sd", "quick-reply");
      b.setAttribute("dir", "auto");
      b.textContent = label;
      b.addEventListener("click", function () {
        hideQuickReplies();
        sendText(label);
        input.focus();
      });
      box.appendChild(b);
    });
    // Right under the question it answers, above "Did this help?" of the answer before it.
    li.insertBefore(box, li.querySelector("[data-sd=feedback]"));
  }

  // The e-mail form, as a line of the transcript right under the handoff message that asks
  // for it (no second notice, no second box under the transcript). It stays there, once:
  // messages written after it go below it, and a rejoin or a replayed handoff never moves it.
  function placeContactItem() {
    if (!contactItem || contactItem.hidden) { return; }
    var system = log.querySelectorAll("[data-author=system][data-seq]");
    var anchor = system.length ? system[system.length - 1] : null;
    if (!anchor) {
      if (!contactItem.parentNode) { log.appendChild(contactItem); }
      return;
    }
    if (anchor.nextSibling !== contactItem) { log.insertBefore(contactItem, anchor.nextSibling); }
  }

  function showContactForm() {
    var shown = contactItem && !contactItem.hidden && contactItem.parentNode;
    if (!contactItem) {
      contactItem = document.createElement("li");
      contactItem.className = "sd-contact-item";
      contactItem.setAttribute("data-sd", "contact-item");
      contactItem.appendChild(contactForm);
    }
    // Saving a signed-in customer's own address keeps their verified contact; another address
    // is where replies go instead. The customer may change the address before saving.
    offerEmail();
    contactForm.hidden = false;
    contactItem.hidden = false;
    placeContactItem();
    if (!shown) { scrollDown(); }
  }

  function hideContactForm() {
    contactForm.hidden = true;
    if (contactItem) { contactItem.hidden = true; }
  }

  function formatWait(seconds) {
    if (!seconds) { return ""; }
    var minutes = Math.max(1, Math.round(seconds / 60));
    return " Expected wait: about " + minutes + (minutes === 1 ? " minute." : " minutes.");
  }

  function applyStatus(newStatus, extra) {
    // A notice or the rating form takes room from the transcript: keep its end in view.
    var atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    status = newStatus;
    if (status !== "bot") {
      var fb = log.querySelectorAll("[data-sd=feedback]");
      for (var i = 0; i < fb.length; i++) { fb[i].remove(); }
      clearOwed();   // a person has the conversation now (or it is closed): not the bot's turn
    }
    if (status === "agent") {
      notice(extra && extra.assignee_name ? "You are chatting with " + extra.assignee_name + "." : "");
      hideContactForm();
    } else if (status === "bot") {
      notice("");
    }
    showReplyTime();
    ratingForm.hidden = !(status === "resolved" && !rated);
    if (ratingForm.hidden) { showNotice("comment-limit", ""); showNotice("stars", ""); }
    if (status === "resolved" && !rated) { notice("This conversation is resolved. Write again any time."); }
    if (atEnd) { scrollDown(); }
  }

  // The handoff message itself (a system message) says what happens next; with no agent
  // online it asks for an e-mail address, and the form follows it in the transcript.
  function onHandoff(frame) {
    showTyping(null);
    setRefusedEmails(frame.refused_emails);
    applyStatus("waiting");
    showReplyTime(frame.agents_online);
    handoffSaidOnline = frame.agents_online > 0;
    if (frame.agents_online > 0) {
      waitNotice = formatWait(frame.expected_wait_seconds).trim();
      notice(waitNotice);
      hideContactForm();
    } else {
      notice("");
      if (!contactGiven) { showContactForm(); }
    }
  }

  // Agents came online or left (a console opened or closed): the header follows at once. While
  // the conversation waits, the first agent to come online is announced (the handoff message
  // above said no one was there; the e-mail form stays for a customer who would rather leave),
  // and with no one left online the e-mail form is offered (once). The handoff's expected wait
  // no longer holds then; when the handoff message said someone would reply here, a notice
  // says no one is online now. The availability frame carries no wait: an agent coming back is
  // announced as the first one is.
  var AGENT_CAME_ONLINE = "Someone from our team is online now and will reply here.";
  var waitNotice = "";            // the handoff's "Expected wait: about N minutes."
  var handoffSaidOnline = false;  // the handoff came while an agent was online
  function onAvailability(agentsOnline) {
    if (typeof agentsOnline !== "number") { return; }
    var before = parseInt(replyTimeEl.getAttribute("data-agents-online"), 10) || 0;
    showReplyTime(agentsOnline);
    if (status !== "waiting") { return; }
    if (agentsOnline > 0 && before === 0) { notice(AGENT_CAME_ONLINE); }
    if (agentsOnline === 0) {
      clearNotice("status", AGENT_CAME_ONLINE);
      clearNotice("status", waitNotice);
      if (handoffSaidOnline && !noticeOf("status")) {
        notice(contactGiven ? "No one from our team is online now: we will reply by e-mail."
          : "No one from our team is online now. Leave your e-mail address and we will reply by e-mail.");
      }
      if (!contactGiven) { showContactForm(); }
    }
  }

  function handle(frame) {
    switch (frame.type) {
      case "joined":
        joined = true;
        transcriptOpen.hidden = false;
        attempts = 0;
        resyncing = false;
        connEl.textContent = "";
        rated = frame.rating !== null && frame.rating !== undefined;
        showReplyTime(frame.agents_online);
        applyStatus(frame.status, frame);
        if (frame.email_left && !contactGiven) {
          keepContact(frame.email_left, frame.status === "waiting" && !frame.agents_online);
        }
        setRefusedEmails(frame.refused_emails);
        if (frame.status === "waiting" && !frame.agents_online) {
          onHandoff({ agents_online: 0, refused_emails: frame.refused_emails });
        }
        flushPending();
        break;
      case "message": showMessage(frame); break;
      case "message.delta": showDelta(frame); break;
      case "typing": showTyping(frame.is_typing ? frame.author : null); break;
      case "handoff": onHandoff(frame); break;
      case "availability": onAvailability(frame.agents_online); break;
      case "conversation":
        if (frame.rating !== null && frame.rating !== undefined) { rated = true; }
        applyStatus(frame.status, frame);
        break;
      case "ack":
        if (frame.of === "rating") {
          ratingForm.hidden = true;
          showNotice("comment-limit", "");
          showNotice("stars", "");
          notice("Thank you for your rating!");
        }
        if (frame.of === "contact") { onContactSaved(); }
        if (frame.of === "transcript") { onTranscriptSent(); }
        break;
      case "error": onError(frame); break;
      default: break;
    }
  }

  // An agent reply sent by e-mail while the customer was away says so, with the time.
  function showEmailed(li, m) {
    if (typeof m.emailed_at !== "string" || li.querySelector("[data-sd=emailed]")) { return; }
    var line = document.createElement("p");
    line.className = "sd-emailed";
    line.setAttribute("data-sd", "emailed");
    var when = clockTime(m.emailed_at);
    line.textContent = "Sent by e-mail" + (when ? " at " + when : "");
    li.appendChild(line);
  }

  function onError(frame) {
    if (frame.client_id) {
      // The server refused this message for good (empty, too long): it is not sent again.
      state.pending = state.pending.filter(function (p) { return p.client_id !== frame.client_id; });
      save();
      var ghost = log.querySelector('[data-client-id="' + frame.client_id + '"]');
      if (ghost) { ghost.remove(); }
    }
    if (frame.code === "bad_token") {
      // The conversation is gone (or the token is wrong): start a new one on the next send.
      var pending = state.pending;
      state = { conversationId: null, token: null, lastSeq: 0, pending: pending };
      save();
      if (ws) { var old = ws; ws = null; joined = false; old.close(); }
      if (pending.length) { start(); }
      return;
    }
    if (frame.code === "server_error") {
      // Nothing was stored: send the unacknowledged messages again, backing off.
      scheduleRetry();
      return;
    }
    if (frame.code === "rate_limited") {
      notice(RATE_NOTICE);
      // One resend however many messages were refused: a timer per refusal would send every
      // pending message once per refusal, be refused again, and multiply.
      if (rateTimer) { return; }
      var wait = typeof frame.retry_after === "number" ? frame.retry_after : 3;
      rateTimer = setTimeout(function () {
        rateTimer = null;
        flushPending();
      }, Math.min(600, Math.max(1, wait)) * 1000);
      return;
    }
    // An address refused is said under the field it was typed in, not in the notice bar (which
    // would push the form out of view).
    if (frame.code === "bad_email") {
      fieldError(lastEmailForm, "That e-mail address does not look right.");
      return;
    }
    if (frame.code === "contact_limited") {
      var later = Math.max(1, Math.ceil((frame.retry_after || 60) / 60));
      fieldError("contact", "Your e-mail address was not saved: it has been changed too often. " +
        "You can send it again in " + later + (later === 1 ? " minute." : " minutes."));
      return;
    }
    if (frame.code === "transcript_limited") {
      var minutes = Math.max(1, Math.ceil((frame.retry_after || 60) / 60));
      notice("The transcript was not sent: it has been asked for too often. You can ask again in " +
        minutes + (minutes === 1 ? " minute." : " minutes."));
      return;
    }
    notice(frame.message || "Something went wrong.");
  }

  // --- Transport ------------------------------------------------------------------------------

  function sendFrame(frame) {
    if (ws && ws.readyState === WebSocket.OPEN && (joined || frame.type === "join")) {
      ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function sendMessage(item) {
    if (!sendFrame({ type: "message", client_id: item.client_id, text: item.text })) { return false; }
    item.sentAt = Date.now();
    return true;
  }

  function flushPending() {
    state.pending.forEach(sendMessage);
  }

  // Exponential backoff with jitter, 1 s doubling to 30 s: after a server_error frame.
  function scheduleRetry() {
    if (retryTimer) { return; }
    var base = Math.min(30000, 1000 * Math.pow(2, retryAttempts));
    retryAttempts += 1;
    connEl.textContent = "Sending again…";
    retryTimer = setTimeout(function () {
      retryTimer = null;
      connEl.textContent = "";
      flushPending();
    }, base / 2 + Math.random() * base / 2);
  }

  // A message whose echo has not come within ACK_WAIT_MS (doubling, up to 8 times that) is
  // sent again with its client id: the server stores it once and acknowledges it again.
  setInterval(function () {
    var now = Date.now();
    state.pending.forEach(function (item) {
      if (!item.sentAt) { return; }
      var tries = item.tries || 0;
      if (now - item.sentAt >= ACK_WAIT_MS * Math.pow(2, Math.min(tries, 3)) && sendMessage(item)) {
        item.tries = tries + 1;
      }
    });
  }, 2000);

  // Joins again on a fresh socket: an answer stored while this socket missed its frame (a
  // process restarted between storing and sending it) comes with the rejoin's gap fill.
  function resync() {
    if (ws && joined) { resyncing = true; ws.close(); }
  }

  // Seqs below the highest one shown that this page never received (a frame lost on the way).
  function missingSeqs() {
    var missing = [];
    for (var seq = 1; seq <= renderedSeq; seq++) {
      if (!shownSeqs[seq]) { missing.push(seq); }
    }
    return missing.slice(-100);
  }

  function scheduleReconnect() {
    if (reconnectTimer) { return; }
    var base = Math.min(30000, 500 * Math.pow(2, attempts));
    var delay = base / 2 + Math.random() * base / 2;   // exponential backoff with jitter
    attempts += 1;
    connEl.textContent = resyncing ? "" : "Reconnecting…";   // a resync is not a lost line
    reconnectTimer = setTimeout(function () { reconnectTimer = null; start(); }, delay);
  }

  // The browser's IANA zone ("America/New_York"): the bot reads "yesterday" in it.
  function browserTimeZone() {
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      return typeof zone === "string" && zone.length <= 64 ? zone : "";
    } catch (e) { return ""; }
  }

  function connect() {
    if (ws && (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN)) { return; }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + wsPath);
    ws = socket;
    socket.onopen = function () {
      var join = {
        type: "join", conversation_id: state.conversationId, token: state.token,
        after_seq: renderedSeq, missing_seqs: missingSeqs()
      };
      var zone = browserTimeZone();
      if (zone) { join.timezone = zone; }
      socket.send(JSON.stringify(join));
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      handle(frame);
    };
    socket.onclose = function () {
      if (ws !== socket) { return; }   // a socket this panel already replaced
      ws = null;
      joined = false;
      if (state.conversationId) { scheduleReconnect(); }
    };
  }

  function ensureConversation() {
    if (state.conversationId) { return Promise.resolve(); }
    if (creating) { return creating; }
    var sent = identity;
    creating = fetch(apiUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify(createPayload())
    }).then(function (response) {
      if (response.status !== 201) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (data) {
      state.conversationId = data.conversation_id;
      state.token = data.token;
      state.lastSeq = 0;
      // The id this conversation was opened with (verified or not), so that a reload with
      // the same snippet resumes it; what the server verified and the details it was given.
      state.userId = sent ? sent.id : "";
      state.verified = !!data.verified;
      state.userDetails = sent ? identityDetails(sent) : "";
      save();
    }).finally(function () { creating = null; });
    return creating;
  }

  function start() {
    ensureConversation().then(connect, function () { scheduleReconnect(); });
  }

  // --- Customer actions -----------------------------------------------------------------------

  function sendTyping(isTyping) {
    if (typingSent === isTyping) { return; }
    if (sendFrame({ type: "typing", is_typing: isTyping })) { typingSent = isTyping; }
  }

  function sendText(text) {
    var item = { client_id: uuid(), text: text };
    state.pending.push(item);
    save();
    showPending(item);
    if (status === "bot") { owedSince["cid:" + item.client_id] = Date.now(); armLate(); }
    if (!sendMessage(item)) { start(); }
  }

  // --- The length limit, shown -----------------------------------------------------------------
  // The boxes have no maxlength, which would cut a long paste silently: near the limit a count
  // shows under the box, and a text over it is refused with a notice and kept to be shortened.
  // Characters are counted as the server counts them (code points, not UTF-16 units).
  var COUNT_FROM = 0.9;   // the count shows from this share of the limit
  var inputCount = q("input-count"), commentCount = q("rating-comment-count");
  function charCount(text) { return Array.from(text).length; }
  function number(n) { return n.toLocaleString("en-US"); }
  function tooLong(what) { return what + " has at most " + number(maxChars) + " characters."; }
  // A box's text as it is sent: without the spaces around it (the server strips them too).
  function boxText(box) { return box.value.trim(); }
  function limitKind(box) { return box === input ? "message-limit" : "comment-limit"; }
  function showCount(box, countEl) {
    var n = charCount(boxText(box));
    var over = n > maxChars;
    countEl.hidden = n < maxChars * COUNT_FROM;
    var text = countEl.hidden ? "" : number(n) + " of " + number(maxChars) + " characters" +
      (over ? ": " + number(n - maxChars) + " too many" : "");
    if (countEl.textContent !== text) { countEl.textContent = text; }
    countEl.classList.toggle("sd-over", over);
    box.setAttribute("aria-invalid", over ? "true" : "false");
    // Shortened enough: the notice that refused it no longer holds.
    if (!over) { showNotice(limitKind(box), ""); }
    return !over;
  }

  function submitMessage() {
    var text = boxText(input);
    // Nothing to show (spaces, or invisible characters only): the server would refuse it too.
    if (!text || INVISIBLE_ONLY.test(text)) { input.value = ""; showCount(input, inputCount); return; }
    if (!showCount(input, inputCount)) {
      showNotice("message-limit", tooLong("A message"));
      input.focus();
      return;
    }
    input.value = "";
    showCount(input, inputCount);
    typingSent = false;
    clearTimeout(typingTimer);
    sendText(text);
    input.focus();
  }

  // The late notice's button asks for a person the way a customer would, in words: the bot
  // hands the conversation over, and agents see a conversation owed an answer in their queue.
  askPerson.addEventListener("click", function () {
    askPerson.hidden = true;
    lateText.textContent = "This is taking longer than usual. We have asked for a person to help you.";
    sendText(ASK_PERSON_TEXT);
    input.focus();
  });

  compose.addEventListener("submit", function (event) { event.preventDefault(); submitMessage(); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitMessage();
    }
  });
  input.addEventListener("input", function () {
    showCount(input, inputCount);
    sendTyping(input.value.trim().length > 0);
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { sendTyping(false); }, 3000);
  });

  // --- Rating: five stars, a radio group (WAI-ARIA radio pattern) -------------------------------

  var score = 0;
  function chooseStar(value, focus) {
    score = value;
    if (value) { showNotice("stars", ""); }
    stars.forEach(function (star, i) {
      var checked = i + 1 === value;
      star.setAttribute("aria-checked", checked ? "true" : "false");
      star.setAttribute("tabindex", checked || (!value && i === 0) ? "0" : "-1");
      star.classList.toggle("sd-on", i < value);
    });
    if (focus && value) { stars[value - 1].focus(); }
  }
  stars.forEach(function (star, i) {
    star.addEventListener("click", function () { chooseStar(i + 1, true); });
    star.addEventListener("keydown", function (event) {
      var next = null;
      if (event.key === "ArrowRight" || event.key === "ArrowUp") { next = i + 2 > 5 ? 1 : i + 2; }
      else if (event.key === "ArrowLeft" || event.key === "ArrowDown") { next = i < 1 ? 5 : i; }
      else if (event.key === "Home") { next = 1; }
      else if (event.key === "End") { next = 5; }
      else if (event.key === " " || event.key === "Enter") { next = i + 1; }
      if (next === null) { return; }
      event.preventDefault();
      chooseStar(next, true);
    });
  });

  ratingForm.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!score) { showNotice("stars", "Choose from 1 to 5 stars."); stars[0].focus(); return; }
    var comment = q("rating-comment");
    if (!showCount(comment, commentCount)) {
      showNotice("comment-limit", tooLong("A comment"));
      comment.focus();
      return;
    }
    sendFrame({ type: "rating", score: score, comment: boxText(comment) });
  });
  q("rating-comment").addEventListener("input", function () {
    showCount(q("rating-comment"), commentCount);
  });

  // --- E-mail for a reply later ----------------------------------------------------------------

  var contactGiven = false;
  // A rejoin (a reload) of a conversation whose customer already left an address: no form;
  // while it waits with no one online (``say``), a line says where replies go, where the form
  // stood.
  function keepContact(email, say) {
    contactGiven = true;
    q("contact-email").value = email;
    if (contactItem || !say) { return; }
    contactItem = document.createElement("li");
    contactItem.className = "sd-msg sd-author-system sd-contact-done";
    contactItem.setAttribute("data-sd", "contact-saved");
    contactItem.setAttribute("dir", "auto");
    contactItem.textContent = "We will reply to " + email + " by e-mail.";
    placeContactItem();
  }

  function onContactSaved() {
    contactGiven = true;
    var email = q("contact-email").value.trim();
    hideContactForm();
    var done = document.createElement("li");
    done.className = "sd-msg sd-author-system sd-contact-done";
    done.setAttribute("data-sd", "contact-saved");
    done.setAttribute("dir", "auto");
    done.textContent = "Thanks! We will reply to " + email + ".";
    log.appendChild(done);
    notice("");
    scrollDown();
  }

  // Which form's address the server answers about (contact or transcript): the last sent.
  var lastEmailForm = "contact";
  // Found now: the contact form moves into the transcript later, and may be out of the page.
  var emailParts = {
    contact: { field: q("contact-email"), error: q("contact-error") },
    transcript: { field: q("transcript-email"), error: q("transcript-error") }
  };
  function fieldError(form, text) {
    var field = emailParts[form].field, error = emailParts[form].error;
    error.textContent = text;
    error.hidden = !text;
    field.setAttribute("aria-invalid", text ? "true" : "false");
    if (text) {
      field.focus();
      if (form === "contact" && contactItem && contactItem.scrollIntoView) {
        contactItem.scrollIntoView({ block: "nearest" });
      }
    }
  }
  ["contact", "transcript"].forEach(function (form) {
    emailParts[form].field.addEventListener("input", function () { fieldError(form, ""); });
  });

  contactForm.addEventListener("submit", function (event) {
    event.preventDefault();
    lastEmailForm = "contact";
    fieldError("contact", "");
    sendFrame({ type: "contact", email: q("contact-email").value.trim() });
  });

  // --- The transcript by e-mail ----------------------------------------------------------------

  var transcriptOpen = q("transcript-open"), transcriptForm = q("transcript-form");
  function showTranscriptButton() { transcriptOpen.hidden = !state.conversationId; }
  transcriptOpen.addEventListener("click", function () {
    var show = transcriptForm.hidden;
    transcriptForm.hidden = !show;
    transcriptOpen.setAttribute("aria-expanded", show ? "true" : "false");
    if (show) {
      var field = q("transcript-email");
      if (!field.value) { field.value = q("contact-email").value.trim(); }
      field.focus();
    }
  });
  transcriptForm.addEventListener("submit", function (event) {
    event.preventDefault();
    lastEmailForm = "transcript";
    fieldError("transcript", "");
    sendFrame({ type: "transcript", email: q("transcript-email").value.trim() });
  });
  function onTranscriptSent() {
    transcriptForm.hidden = true;
    transcriptOpen.setAttribute("aria-expanded", "false");
    var to = q("transcript-email").value.trim();
    // An empty field sends it to the address left earlier (perhaps on another device).
    notice(to ? "We are sending this conversation to " + to + "."
              : "We are sending this conversation to the e-mail address you left.");
  }

  // --- Reopening from an e-mail's signed link (chat.mail) ---------------------------------------
  // The loader passes the link's token from the host page's address (or the panel page has it
  // in its own, opened straight from a mail). The server gives the named conversation a new
  // token; a forged or expired link gets a fresh conversation, never anyone else's.
  function clearLog() {
    Array.prototype.slice.call(log.children).forEach(function (el) {
      if (el.getAttribute("data-sd") !== "greeting") { el.remove(); }
    });
    shownSeqs = {}; renderedSeq = 0; streaming = {};
  }
  var reopening = null;
  function reopen(link) {
    if (typeof link !== "string" || !link || link.length > 500 || reopening === link) { return; }
    reopening = link;
    fetch(reopenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ widget: key, link: link })
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (ws) { var old = ws; ws = null; joined = false; old.close(); }
      clearLog();
      if (result.ok && result.data.conversation_id && result.data.token) {
        // Kept under the page's customer, if any, so that their next page does not take it for
        // another customer's; never refreshed as theirs (the server checks that anyway).
        state = {
          conversationId: result.data.conversation_id, token: result.data.token, lastSeq: 0,
          pending: [], userId: identity ? identity.id : "", verified: false
        };
        save();
        start();
      } else {
        state = { conversationId: null, token: null, lastSeq: 0, pending: [] };
        save();
        notice(result.data && result.data.error === "link_expired"
          ? "That link has expired. Write to us here to start a new conversation."
          : "That link is not valid. Write to us here to start a new conversation.");
      }
      showTranscriptButton();
    }).catch(function () { reopening = null; notice("Could not open that conversation; try again."); });
  }
  (function reopenFromOwnAddress() {
    // In the fragment (sent to no server), or the query of a link mailed before it moved.
    var match = /[#&]sd_reopen=([^&]*)/.exec(window.location.hash) ||
      /[?&]sd_reopen=([^&#]*)/.exec(window.location.search);
    if (match) {
      reopen(decodeURIComponent(match[1].replace(/\+/g, " ")));
      try { window.history.replaceState(null, "", window.location.pathname); } catch (e) { /* ignore */ }
    }
  }());

  if (quickBox) {
    quickBox.addEventListener("click", function (event) {
      var button = event.target.closest("[data-sd=quick-reply]");
      if (!button) { return; }
      hideQuickReplies();
      sendText(button.textContent.trim());
      input.focus();
    });
  }

  function closePanel() { window.parent.postMessage({ type: "supportdesk:close" }, "*"); }
  q("close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { closePanel(); }
  });
  // One clear way to close: on a wide screen the loader's launcher is the close button beside
  // the panel, so the header's is hidden; full-screen on a phone the launcher is hidden and the
  // header's shows. The loader says which with each "open" (closeInPanel).
  var headerClose = q("close");
  window.addEventListener("message", function (event) {
    if (!event.data || event.source !== window.parent) { return; }
    if (event.data.type === "supportdesk:open" || event.data.type === "supportdesk:layout") {
      if (typeof event.data.closeInPanel === "boolean") { headerClose.hidden = !event.data.closeInPanel; }
      if (event.data.type === "supportdesk:open") { input.focus(); }
    }
    // Keys the customer typed while this panel loaded (widget.js kept them): put in the box
    // before any typed since, to be sent as they would send anything they typed.
    if (event.data.type === "supportdesk:typed" && typeof event.data.text === "string") {
      input.value = event.data.text + input.value;   // all of it: the count says if too long
      input.setSelectionRange(input.value.length, input.value.length);
      showCount(input, inputCount);
    }
  });
  // A key typed while nothing in the panel has focus (the frame just focused, the message box
  // not yet) goes to the message box: focused during the keydown, it receives the character.
  document.addEventListener("keydown", function (event) {
    if (document.activeElement !== document.body && document.activeElement !== null) { return; }
    if (event.ctrlKey || event.metaKey || event.altKey || event.key.length !== 1) { return; }
    input.focus();
  });

  // --- Verified identity (chat.identity) -------------------------------------------------------
  // The host page's signed customer (data-user-* on the snippet, or SupportDesk.identify())
  // arrives from the loader; it goes with the request that creates a conversation, and the
  // server checks its hash. A different customer than the stored conversation's starts anew.
  var identity = null;
  // The host page (its URL without the #fragment, and its title), told by the loader: the
  // panel's own location is only the frame's. Sent when a conversation is created.
  var hostPage = null;

  function createPayload() {
    var payload = { widget: key };
    if (identity) { payload.user = identity; }
    if (hostPage) {
      payload.page_url = hostPage.url;
      if (hostPage.title) { payload.page_title = hostPage.title; }
    }
    return payload;
  }

  function applyHostPage(data) {
    if (typeof data.url !== "string" || !/^https?:\/\//i.test(data.url) || data.url.length > 2000) { return; }
    var title = typeof data.title === "string" ? data.title.slice(0, 300) : "";
    hostPage = { url: data.url, title: title };
  }

  function identityDetails(user) { return JSON.stringify([user.email || "", user.name || ""]); }

  // A different customer than the stored conversation's starts a fresh conversation; messages
  // still unsent go with it only when the stored one was anonymous (the same visitor signing
  // in), never from one signed-in customer's conversation to another's (nor after a reset).
  function forgetConversation(keepNothing) {
    var pending = state.userId || keepNothing ? [] : state.pending;
    state = { conversationId: null, token: null, lastSeq: 0, pending: pending };
    save();
    if (ws) { var old = ws; ws = null; joined = false; old.close(); }
    clearLog();  // and what it counted as shown: the next conversation's seqs start at 1
    pending.forEach(showPending);
    if (pending.length) { start(); }
  }

  // The same verified customer with another e-mail or name than the conversation last sent:
  // the server updates the contact (chat.services.conversation_identify).
  function refreshIdentity(user) {
    var details = identityDetails(user), conversationId = state.conversationId;
    fetch(identifyUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ widget: key, conversation_id: state.conversationId, token: state.token, user: user })
    }).then(function (response) {
      if (state.conversationId !== conversationId) { return; }  // replaced meanwhile
      if (response.status === 409 && identity === user) { forgetConversation(); return; }
      if (response.ok) { state.userDetails = details; save(); }
    }, function () { /* tried again on the next page */ });
  }

  function applyIdentity(user) {
    if (!user || typeof user.id !== "string" || !user.id || typeof user.hash !== "string") { return; }
    identity = { id: user.id, hash: user.hash, email: user.email || "", name: user.name || "" };
    if (!state.conversationId) { return; }
    if ((state.userId || "") !== identity.id) {
      forgetConversation();
    } else if (state.verified !== false && state.userDetails !== identityDetails(identity)) {
      refreshIdentity(identity);
    }
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || window.parent === window || !event.data) { return; }
    if (event.data.type === "supportdesk:identify") { applyIdentity(event.data.user); }
    if (event.data.type === "supportdesk:reset") {
      // The host page's customer signed out: the next visitor on this browser starts afresh.
      identity = null;
      if (state.conversationId || state.pending.length) { forgetConversation(true); }
      window.parent.postMessage({ type: "supportdesk:reset-done" }, "*");
    }
    if (event.data.type === "supportdesk:page") { applyHostPage(event.data); }
    if (event.data.type === "supportdesk:reopen") { reopen(event.data.link); }
  });

  // --- Start ----------------------------------------------------------------------------------

  state.pending.forEach(function (item) {
    showPending(item);
    owedSince["cid:" + item.client_id] = item.sentAt || Date.now();
  });
  armLate();
  if (state.conversationId) { start(); }
  q("send").disabled = false;   // disabled in the page until these handlers are in place
  input.focus();
}());
