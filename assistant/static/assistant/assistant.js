// The assistant in the browser: the Explain panel ([data-explain-panel]) and the chat page ([data-assistant-chat]),
// both over /ws/assistant/. Streamed tokens are shown as plain text (textContent); the final frame's `html`,
// which the server rendered from markdown and sanitised, replaces them. Nothing else is written as HTML.
(function () {
  "use strict";
  if (window.pdmAssistant) return; // the panel may be included more than once
  window.pdmAssistant = {};

  const socketUrl = (query) =>
    (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/assistant/" + (query || "");

  const element = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const citationsBlock = (citations) => {
    if (!citations || !citations.length) return null;
    const details = element("details", "citations");
    details.appendChild(element("summary", "", `Manual sources (${citations.length})`));
    const list = element("ol");
    list.dataset.citationList = "";
    for (const citation of citations) {
      const item = element("li");
      item.value = citation.number;
      item.appendChild(element("strong", "", citation.source));
      item.appendChild(document.createTextNode(", " + citation.section));
      item.appendChild(element("blockquote", "", citation.text));
      list.appendChild(item);
    }
    details.appendChild(list);
    return details;
  };

  const copyText = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = element("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const message = button.closest("[data-raw]");
    if (!message) return;
    copyText(message.dataset.raw).then(() => {
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  });

  // A socket that reconnects with a growing delay; `open()` resolves once it is connected.
  class AssistantSocket {
    constructor(query, onFrame, onClosed) {
      this.query = query;
      this.onFrame = onFrame;
      this.onClosed = onClosed || (() => {});
      this.socket = null;
      this.delay = 500;
      this.closedOnPurpose = false;
    }
    open() {
      if (this.socket && this.socket.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
      if (this.opening) return this.opening;
      this.opening = new Promise((resolve, reject) => {
        const socket = new WebSocket(socketUrl(typeof this.query === "function" ? this.query() : this.query));
        this.socket = socket;
        socket.onopen = () => { this.delay = 500; this.opening = null; resolve(socket); };
        socket.onmessage = (event) => this.onFrame(JSON.parse(event.data));
        socket.onclose = (event) => {
          this.opening = null;
          reject(event);
          this.onClosed(event);
          if (event.code === 4401 || event.code === 4403 || this.closedOnPurpose) return;
          setTimeout(() => this.open().catch(() => {}), this.delay);
          this.delay = Math.min(this.delay * 2, 10000);
        };
      });
      return this.opening;
    }
    async send(frame) {
      const socket = await this.open();
      socket.send(JSON.stringify(frame));
    }
  }

  // --- The Explain panel ------------------------------------------------------------------------------------
  const initExplain = (panel) => {
    const $ = (name) => panel.querySelector(`[data-explain-${name}]`);
    const start = $("start"), stop = $("stop"), status = $("status");
    const draftBox = $("draft"), draftText = $("draft-text");
    const rewrite = $("rewrite"), text = $("text"), model = $("model"), note = $("note"), citations = $("citations");
    const picker = $("machine");
    let streamed = "";

    const setBusy = (busy) => {
      if (start) start.disabled = busy;
      if (stop) stop.hidden = !busy;
      panel.dataset.state = busy ? "busy" : "idle";
    };
    const onFrame = (frame) => {
      if (frame.type === "queued") {
        status.textContent = frame.position > 0
          ? `Waiting for the model: ${frame.position} request${frame.position === 1 ? "" : "s"} ahead…`
          : "The assistant is rewriting the draft…";
      } else if (frame.type === "draft") {
        draftBox.hidden = false;
        draftText.innerHTML = frame.html; // rendered and sanitised by the server
        citations.replaceChildren();
        const block = citationsBlock(frame.citations);
        if (block) citations.appendChild(block);
        note.textContent = "";
        streamed = "";
        text.textContent = "";
        rewrite.hidden = false;
        rewrite.classList.add("streaming");
        status.textContent = "Draft ready: the assistant is rewriting it…";
      } else if (frame.type === "token") {
        streamed += frame.content;
        text.textContent = streamed;
      } else if (frame.type === "final") {
        rewrite.classList.remove("streaming");
        setBusy(false);
        if (frame.source === "llm") {
          text.innerHTML = frame.html;
          if (model) model.textContent = frame.model || "language model";
          rewrite.hidden = false;
          note.textContent = "";
        } else {
          rewrite.hidden = true;
          text.textContent = "";
          note.textContent = frame.finish_reason === "cancelled"
            ? "Stopped: the draft above stands."
            : frame.error
              ? `The language model could not rewrite it (${frame.error}); the draft is the explanation.`
              : "No language model is configured: the draft is the explanation.";
        }
        status.textContent = frame.cached ? "Explained earlier." : `Done in ${Number(frame.seconds || 0).toFixed(1)} s.`;
        panel.dataset.done = "1";
      } else if (frame.type === "error") {
        setBusy(false);
        rewrite.classList.remove("streaming");
        status.textContent = frame.message;
        status.classList.add("form-error");
      }
    };
    const socket = new AssistantSocket("?conversation=new", onFrame, () => setBusy(false));

    if (start) start.addEventListener("click", () => {
      status.classList.remove("form-error");
      status.textContent = "Building the grounded draft…";
      setBusy(true);
      const frame = picker ? { type: "explain", machine: picker.value } : { type: "explain", prediction: Number(panel.dataset.prediction) };
      socket.send(frame).catch(() => { setBusy(false); status.textContent = "Could not reach the assistant."; });
    });
    if (stop) stop.addEventListener("click", () => socket.send({ type: "stop" }));
  };

  // --- The chat page --------------------------------------------------------------------------------------
  const initChat = (root) => {
    const log = root.querySelector("[data-chat-log]");
    const form = root.querySelector("[data-chat-form]");
    const input = root.querySelector("[data-chat-input]");
    const send = root.querySelector("[data-chat-send]");
    const stop = root.querySelector("[data-chat-stop]");
    const status = root.querySelector("[data-chat-status]");
    const machine = root.querySelector("[data-chat-machine]");
    let streaming = null;

    const messageNode = (message) => {
      const node = element("article", `chat-message role-${message.role}`);
      node.dataset.testid = "chat-message";
      node.dataset.raw = message.text;
      if (message.id) node.dataset.messageId = message.id;
      const head = element("header", "chat-message-head");
      head.appendChild(element("strong", "", message.role === "user" ? "You" : "Assistant"));
      if (message.role === "assistant") {
        if (message.source === "retrieval") head.appendChild(element("span", "badge", "manual passages (no model)"));
        else if (message.model) head.appendChild(element("span", "badge", message.model));
        if (message.stopped) head.appendChild(element("span", "badge", "stopped"));
      }
      const copy = element("button", "icon-button copy-button", "Copy");
      copy.type = "button";
      copy.dataset.copy = "";
      copy.title = "Copy the text";
      head.appendChild(copy);
      node.appendChild(head);
      const body = element("div", "markdown chat-text");
      if (message.html !== undefined) body.innerHTML = message.html; // sanitised by the server
      else body.textContent = message.text;
      node.appendChild(body);
      const block = citationsBlock(message.citations);
      if (block) node.appendChild(block);
      return node;
    };
    const scroll = () => { log.scrollTop = log.scrollHeight; };
    // A conversation this page started joins the list on the left.
    const listConversation = (conversation) => {
      const list = document.querySelector(".conversation-list ul");
      if (!list || list.querySelector(`a[href$="?conversation=${conversation.id}"]`)) return;
      const placeholder = list.querySelector("li.muted");
      if (placeholder) placeholder.remove();
      list.querySelectorAll("li.active").forEach((item) => item.classList.remove("active"));
      const item = element("li", "active");
      const link = element("a", "", conversation.title);
      link.href = `?conversation=${conversation.id}`;
      item.appendChild(link);
      item.appendChild(element("span", "muted small", conversation.machine || "no machine"));
      list.prepend(item);
    };
    const setBusy = (busy) => {
      if (send) send.disabled = busy;
      if (stop) stop.hidden = !busy;
      root.dataset.state = busy ? "busy" : "idle";
    };
    const conversationQuery = () => {
      const current = root.dataset.conversation;
      return current ? `?conversation=${encodeURIComponent(current)}` : "";
    };

    const onFrame = (frame) => {
      if (frame.type === "history") {
        if (streaming) return; // a reconnect mid-answer: the answer in the log stays until its final frame
        log.replaceChildren(...frame.messages.map(messageNode));
        if (!frame.messages.length) log.appendChild(element("p", "muted", "Ask about symptoms, inspections, intervals or a machine's state. Answers cite the manuals."));
        if (frame.conversation) {
          root.dataset.conversation = String(frame.conversation.id);
          if (machine && frame.conversation.machine !== undefined && !machine.dataset.touched) machine.value = frame.conversation.machine || "";
        }
        root.dataset.ready = "1";
        scroll();
      } else if (frame.type === "queued") {
        status.textContent = frame.position > 0
          ? `Waiting for the model: ${frame.position} request${frame.position === 1 ? "" : "s"} ahead…`
          : "Writing…";
      } else if (frame.type === "token" && streaming) {
        streaming.text += frame.content;
        streaming.body.textContent = streaming.text;
        scroll();
      } else if (frame.type === "final" && frame.kind === "chat") {
        const finished = messageNode({
          id: frame.message, role: "assistant", text: frame.text, html: frame.html, source: frame.source,
          model: frame.model, stopped: frame.stopped, citations: frame.citations,
        });
        const question = streaming ? streaming.question : null;
        if (streaming) streaming.node.replaceWith(finished);
        else log.appendChild(finished);
        streaming = null;
        setBusy(false);
        if (frame.conversation) {
          root.dataset.conversation = String(frame.conversation.id);
          listConversation(frame.conversation);
          const url = new URL(location.href);
          url.searchParams.delete("new");
          url.searchParams.set("conversation", frame.conversation.id);
          history.replaceState(null, "", url);
        } else if (frame.stopped) {
          finished.remove(); // stopped before a word: nothing was kept
          if (question) question.remove();
        }
        status.textContent = frame.stopped ? "Stopped." : frame.error ? `The model failed (${frame.error}): the manual passages are listed instead.` : `Answered in ${Number(frame.seconds || 0).toFixed(1)} s.`;
        scroll();
      } else if (frame.type === "error") {
        setBusy(false);
        if (streaming) { streaming.node.remove(); streaming.question.remove(); streaming = null; }
        status.textContent = frame.message;
      }
    };
    const socket = new AssistantSocket(conversationQuery, onFrame, () => {
      if (streaming) status.textContent = "Connection lost: reconnecting…";
    });
    socket.open().catch(() => { status.textContent = "Could not reach the assistant: retrying…"; });

    if (machine) machine.addEventListener("change", () => { machine.dataset.touched = "1"; });
    if (!form) return;
    const submit = () => {
      const question = input.value.trim();
      if (!question || streaming) return;
      const empty = log.querySelector("[data-chat-empty], p.muted");
      if (empty) empty.remove();
      const questionNode = messageNode({ role: "user", text: question });
      log.appendChild(questionNode);
      const node = messageNode({ role: "assistant", text: "" });
      node.classList.add("streaming");
      log.appendChild(node);
      streaming = { node, question: questionNode, body: node.querySelector(".chat-text"), text: "" };
      const frame = { type: "ask", question, machine: machine ? machine.value || null : null };
      const current = root.dataset.conversation;
      if (current && current !== "new") frame.conversation = Number(current);
      input.value = "";
      status.textContent = "Asking…";
      setBusy(true);
      scroll();
      socket.send(frame).catch(() => { onFrame({ type: "error", message: "Could not reach the assistant." }); });
    };
    form.addEventListener("submit", (event) => { event.preventDefault(); submit(); });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); submit(); }
    });
    if (stop) stop.addEventListener("click", () => socket.send({ type: "stop" }));
  };

  const initAll = () => {
    document.querySelectorAll("[data-explain-panel]").forEach((panel) => {
      if (!panel.dataset.bound) { panel.dataset.bound = "1"; initExplain(panel); }
    });
    document.querySelectorAll("[data-assistant-chat]").forEach(initChat);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", initAll);
  else initAll();
})();
