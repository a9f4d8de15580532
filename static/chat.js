// The demo web chat: an end user talking to the built-in bot and, after a
// handover, to a Genesys Cloud agent. It uses only the public bot API under
// the endpoint's Config URL; agent messages, typing and state changes arrive
// on the session's Server-Sent Events stream. Kept in a file (never inline) so
// the Content-Security-Policy can forbid inline scripts.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root) return;

  // The chat's own API under its link; each session has a key from the
  // server that opens that session only (docs/security.md).
  var base = root.getAttribute("data-api");
  var storageKey = "handover.chat." + base;
  var agentWords = new RegExp("\\b(" + root.getAttribute("data-agent-words") + ")\\b", "i");
  var TYPING_EVERY_MS = 3000;
  var CONNECTING = "One moment, I am connecting you with an agent.";

  var log = document.getElementById("chat-transcript");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var typing = document.getElementById("chat-typing");
  var badge = document.getElementById("chat-state");
  var humanButton = document.getElementById("chat-human");
  var leaveButton = document.getElementById("chat-leave");
  var newButton = document.getElementById("chat-new");
  var availabilityLine = document.getElementById("chat-availability");
  var waitLine = document.getElementById("chat-wait");
  var AVAILABILITY_EVERY_MS = 30000;

  // state survives a reload of the tab (sessionStorage), so the chat continues.
  var state = load();
  if (!state) {
    state = { sessionId: root.getAttribute("data-session-id"), userId: root.getAttribute("data-user-id"), key: root.getAttribute("data-session-key"),
      mode: "bot", lastEventId: 0, entries: [] };
  }
  document.getElementById("chat-session").textContent = state.sessionId;

  function load() {
    try {
      return JSON.parse(window.sessionStorage.getItem(storageKey));
    } catch (e) {
      return null;
    }
  }
  function save() {
    try {
      window.sessionStorage.setItem(storageKey, JSON.stringify(state));
    } catch (e) { /* private mode: the chat works, a reload starts over */ }
  }

  function inHandover() { return state.mode === "queued" || state.mode === "agent_joined"; }

  function setMode(mode) {
    state.mode = mode;
    save();
    var labels = { bot: "With the bot", queued: "Waiting for an agent", agent_joined: "With an agent" };
    badge.textContent = labels[mode] || mode;
    badge.setAttribute("data-state", mode);
    leaveButton.hidden = !inHandover();
    humanButton.disabled = inHandover();
    availabilityLine.hidden = inHandover();
    if (mode !== "queued") {
      waitLine.hidden = true;
      state.queue = null;
    }
    if (mode === "bot") checkAvailability();
  }

  // Availability: whether anyone is On Queue before "Talk to a human".
  function minutes(seconds) {
    if (seconds === null || seconds === undefined) return "unknown";
    if (seconds < 60) return "less than a minute";
    var m = Math.round(seconds / 60);
    return m === 1 ? "about a minute" : "about " + m + " minutes";
  }
  function checkAvailability() {
    fetch(base + "/availability", { headers: { Accept: "application/json" } }).then(function (resp) {
      return resp.ok ? resp.json() : null;
    }).then(function (a) {
      if (!a || inHandover()) return;
      if (!a.known) availabilityLine.textContent = "Whether an agent is available is not known right now.";
      else if (!a.available) availabilityLine.textContent = "No agent is available right now.";
      else availabilityLine.textContent = a.agentsOnQueue + (a.agentsOnQueue === 1 ? " agent" : " agents") + " available; estimated wait " + minutes(a.estimatedWaitSeconds) + ".";
      availabilityLine.setAttribute("data-available", a.known ? String(a.available) : "unknown");
    }, function () { /* Handover unreachable: say nothing */ });
  }
  setInterval(function () { if (state.mode === "bot") checkAvailability(); }, AVAILABILITY_EVERY_MS);

  // The wait while queued: the last queue update, and the time waited so far.
  function showWait() {
    if (state.mode !== "queued" || !state.queue) return;
    var waited = Math.max(0, Math.round((Date.now() - state.queue.since) / 1000));
    var mm = Math.floor(waited / 60), ss = waited % 60;
    waitLine.textContent = "Waiting " + mm + ":" + (ss < 10 ? "0" : "") + ss + " · " + state.queue.waiting + " in the queue · estimated wait " +
      minutes(state.queue.estimatedWaitSeconds) + ".";
    waitLine.hidden = false;
  }
  setInterval(showWait, 1000);

  // An entry is {from, text, time, phase, attachments, quickReplies, cards,
  // datePicker, listPicker, messageId, answered}.
  function add(entry) {
    entry.time = entry.time || new Date().toISOString();
    entry.phase = entry.phase || (inHandover() ? "handover" : "bot");
    state.entries.push(entry);
    save();
    show(entry);
  }

  function show(entry) {
    var li = document.createElement("li");
    li.className = "chat-message from-" + entry.from;
    li.setAttribute("data-testid", "chat-message");
    li.setAttribute("data-from", entry.from);
    if (entry.from !== "user" && entry.from !== "system") {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = entry.from === "agent" ? (entry.agentName || "Agent") : "Bot";
      li.appendChild(who);
    }
    if (entry.text) {
      var text = document.createElement("span");
      text.className = "text";
      text.setAttribute("data-testid", "chat-message-text");
      text.textContent = entry.text;
      li.appendChild(text);
    }
    (entry.attachments || []).forEach(function (a) { li.appendChild(attachment(a)); });
    // Every choice a message offers is a button; a click answers Genesys
    // with the choice's type (QuickReply, Button or DatePicker).
    var choices = [];
    (entry.quickReplies || []).forEach(function (q) {
      choices.push({ label: q.text, testid: "chat-quick-reply", reply: { type: "QuickReply", text: q.text, payload: q.payload || q.text } });
    });
    (entry.cards || []).forEach(function (card) { li.appendChild(cardView(card, entry)); });
    if (entry.datePicker) {
      (entry.datePicker.times || []).forEach(function (t) {
        var label = new Date(t.time).toLocaleString();
        choices.push({ label: label, testid: "chat-date-choice", reply: { type: "DatePicker", text: label, payload: t.time } });
      });
    }
    if (entry.listPicker) {
      (entry.listPicker.sections || []).forEach(function (s) {
        (s.items || []).forEach(function (item) {
          // Open Messaging has no list-picker response: the choice goes back as text.
          choices.push({ label: item.title, testid: "chat-list-choice", reply: { text: item.title } });
        });
      });
    }
    if (choices.length) li.appendChild(choiceButtons(entry, choices));
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function choiceButtons(entry, choices) {
    var replies = document.createElement("div");
    replies.className = "quick-replies";
    choices.forEach(function (c) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "secondary outline";
      b.textContent = c.label;
      b.setAttribute("data-testid", c.testid);
      b.disabled = !!entry.answered;
      b.addEventListener("click", function () { quickReply(entry, c.reply, replies); });
      replies.appendChild(b);
    });
    return replies;
  }

  function cardView(card, entry) {
    var box = document.createElement("div");
    box.className = "chat-card";
    box.setAttribute("data-testid", "chat-card");
    var title = document.createElement("strong");
    title.textContent = card.title;
    box.appendChild(title);
    if (card.description) {
      var d = document.createElement("p");
      d.textContent = card.description;
      box.appendChild(d);
    }
    var postbacks = [];
    (card.actions || []).forEach(function (a) {
      if (a.type === "link") {
        var safe = /^https?:\/\//i.test(a.url || "");
        var link = document.createElement("a");
        link.textContent = a.text || a.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        if (safe) link.href = a.url;
        box.appendChild(link);
      } else {
        postbacks.push({ label: a.text, testid: "chat-card-button", reply: { type: "Button", text: a.text, payload: a.payload || a.text } });
      }
    });
    if (postbacks.length) box.appendChild(choiceButtons(entry, postbacks));
    return box;
  }

  function attachment(a) {
    var safe = /^https?:\/\//i.test(a.url || "");
    var isImage = a.mediaType === "Image" || /^image\//.test(a.mime || "");
    var link = document.createElement("a");
    link.setAttribute("data-testid", "chat-attachment");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (safe) link.href = a.url;
    if (safe && isImage) {
      var img = document.createElement("img");
      img.src = a.url;
      img.alt = a.filename || a.text || "Image from the agent";
      link.appendChild(img);
    } else {
      link.textContent = a.filename || a.url;
    }
    return link;
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Chat-Key": state.key },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.text().then(function (raw) {
        var data = {};
        try { data = raw ? JSON.parse(raw) : {}; } catch (e) { data = {}; }
        return { status: resp.status, data: data };
      });
    });
  }

  function errorText(res) {
    return (res.data && res.data.error && res.data.error.message) || ("HTTP " + res.status);
  }

  function system(text) { add({ from: "system", text: text }); }

  function send(text) {
    add({ from: "user", text: text });
    if (!inHandover() && agentWords.test(text)) {
      handOver();
      return;
    }
    post("", { userId: state.userId, sessionId: state.sessionId, text: text }).then(function (res) {
      if (res.status === 200) {
        (res.data.outputs || []).forEach(function (o) { add({ from: "bot", text: o.text }); });
        if (res.data.handover) setMode(res.data.handover.state || "queued");
      } else if (res.status === 202) {
        if (!inHandover()) setMode("queued");
      } else {
        system("Not sent: " + errorText(res));
      }
    }, function () { system("Not sent: Handover cannot be reached."); });
  }

  // handOver asks for an agent with the conversation with the bot so far; the
  // endpoint's "Handover to Agent" defaults fill in the rest.
  function handOver() {
    add({ from: "bot", text: CONNECTING });
    var transcript = state.entries.filter(function (e) {
      return e.phase === "bot" && (e.from === "user" || e.from === "bot") && e.text;
    }).slice(-100).map(function (e) { return { source: e.from, text: e.text, time: e.time }; });
    setMode("queued");
    post("/handover", { userId: state.userId, sessionId: state.sessionId, transcript: transcript }).then(function (res) {
      if (res.status !== 202 && !(res.data.error && res.data.error.code === "already_in_handover")) {
        setMode("bot");
        system("The handover did not start: " + errorText(res));
        return;
      }
      // A session with no handover yet has no stream: follow it now rather
      // than when the EventSource next retries.
      if (events) events.close();
      connect();
    }, function () {
      setMode("bot");
      system("The handover did not start: Handover cannot be reached.");
    });
  }

  // quickReply sends the user's choice: as a structured response when it has
  // a type Genesys answers with, otherwise (a list item) as its text.
  function quickReply(entry, q, container) {
    entry.answered = true;
    save();
    Array.prototype.forEach.call(container.querySelectorAll("button"), function (b) { b.disabled = true; });
    add({ from: "user", text: q.text });
    var body = { userId: state.userId, sessionId: state.sessionId, text: q.text };
    if (entry.messageId && q.type) body.data = { quickReply: { type: q.type, text: q.text, payload: q.payload || q.text, originatingMessageId: entry.messageId } };
    post("", body).then(function (res) {
      if (res.status !== 202 && res.status !== 200) system("Not sent: " + errorText(res));
    });
  }

  // Server-Sent Events: the agent's side of the conversation.
  var events = null;
  var typingTimer = null;
  function connect() {
    var url = base + "/sessions/" + encodeURIComponent(state.sessionId) + "/events?key=" + encodeURIComponent(state.key);
    if (state.lastEventId) url += "&lastEventId=" + encodeURIComponent(state.lastEventId);
    events = new EventSource(url);
    events.addEventListener("message", function (ev) {
      if (!fresh(ev)) return;
      var d = JSON.parse(ev.data);
      hideTyping();
      add({ from: d.from || "agent", text: d.text, attachments: d.attachments || [], quickReplies: d.quickReplies || [],
        cards: d.cards || [], datePicker: d.datePicker || null, listPicker: d.listPicker || null, messageId: d.genesysMessageId, agentName: d.agentName });
    });
    events.addEventListener("receipt", function (ev) {
      if (!fresh(ev)) return;
      var d = JSON.parse(ev.data);
      system("A message did not reach the agent" + (d.reason ? ": " + d.reason : "."));
    });
    events.addEventListener("state", function (ev) {
      if (!fresh(ev)) return;
      onState(JSON.parse(ev.data));
    });
    events.addEventListener("queue", function (ev) {
      if (!fresh(ev)) return;
      var d = JSON.parse(ev.data);
      state.queue = { since: Date.parse(d.time) - d.waitedSeconds * 1000, waiting: d.waiting, estimatedWaitSeconds: d.estimatedWaitSeconds };
      save();
      showWait();
    });
    events.addEventListener("typing", function (ev) {
      var d = JSON.parse(ev.data);
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, d.durationMs > 0 ? d.durationMs : 5000);
    });
  }
  // fresh drops an event already shown (a stream replayed after a reload).
  function fresh(ev) {
    var id = parseInt(ev.lastEventId, 10);
    if (!id) return true;
    if (id <= state.lastEventId) return false;
    state.lastEventId = id;
    save();
    return true;
  }
  function hideTyping() { typing.hidden = true; }

  function onState(d) {
    switch (d.state) {
      case "queued":
        setMode("queued");
        system("Waiting for an agent…");
        break;
      case "agent_joined":
        setMode("agent_joined");
        system((d.agentName || "An agent") + " joined the chat.");
        break;
      case "ended":
        setMode("bot");
        hideTyping();
        if (d.reason === "user_ended") system("You left the conversation. You are chatting with the bot again.");
        else if (d.reason === "agent_ended") system("The agent ended the conversation.");
        else if (d.reason === "queue_timeout") system("No agent took the conversation in time.");
        else if (d.reason === "inactivity") system("The conversation ended after a period of inactivity.");
        else system("The conversation with the agent ended.");
        break;
      case "failed":
        setMode("bot");
        system("The handover could not reach Genesys" + (d.reason ? " (" + d.reason + ")" : "") + ". You are chatting with the bot again.");
        break;
    }
  }

  // The user typing, relayed while in handover, at most every few seconds.
  var lastTyping = 0;
  input.addEventListener("input", function () {
    if (!inHandover() || !input.value) return;
    var now = Date.now();
    if (now - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = now;
    post("/sessions/" + encodeURIComponent(state.sessionId) + "/typing");
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    lastTyping = 0;
    send(text);
  });
  humanButton.addEventListener("click", function () {
    if (inHandover()) return;
    add({ from: "user", text: "I want to talk to a human." });
    handOver();
  });
  leaveButton.addEventListener("click", function () {
    post("/sessions/" + encodeURIComponent(state.sessionId) + "/end").then(function (res) {
      if (res.status === 409) setMode("bot");
      else if (res.status !== 200) system("Could not leave: " + errorText(res));
    });
  });
  newButton.addEventListener("click", function () {
    if (events) events.close();
    try { window.sessionStorage.removeItem(storageKey); } catch (e) { /* nothing kept */ }
    window.location.reload();
  });

  state.entries.forEach(show);
  if (state.entries.length === 0) add({ from: "bot", text: "Hello! I am the demo bot. Type \"agent\" to talk to a human." });
  setMode(state.mode);
  connect();
})();
