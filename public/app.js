// A minimal edge-chat client: join a room, show history and live messages,
// the roster, and errors. It speaks docs/protocol.md; the full client
// (reconnect, DMs, typing) is its own piece of work. User text is only ever
// set through textContent, never parsed as HTML.

const $ = (id) => document.getElementById(id);
const status = $("status");
const messages = $("messages");
const users = $("users");
const input = $("message");
const sendButton = $("send-form").querySelector("button");
let socket;
let roster = [];

$("name").value = localStorage.getItem("edge-chat:name") ?? "";
if (location.hash.length > 1) $("room").value = decodeURIComponent(location.hash.slice(1));

$("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const room = $("room").value.trim();
  const name = $("name").value.trim();
  localStorage.setItem("edge-chat:name", name);
  location.hash = room;
  connect(room, name);
});

$("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value;
  if (!text.trim() || socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ type: "chat", text }));
  input.value = "";
});

function connect(room, name) {
  socket?.close(1000);
  messages.replaceChildren();
  const url = new URL(`/chat/${encodeURIComponent(room)}`, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  socket = ws;
  status.textContent = "Connecting…";
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "join", name })));
  ws.addEventListener("message", (event) => handle(JSON.parse(event.data)));
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    status.textContent = "Disconnected";
    setComposing(false);
  });
}

function handle(frame) {
  switch (frame.type) {
    case "welcome":
      status.textContent = `Live in ${frame.room} as ${frame.name}`;
      for (const chat of frame.history) showChat(chat);
      setRoster(frame.users);
      setComposing(true);
      break;
    case "chat":
      showChat(frame);
      break;
    case "joined":
      setRoster([...roster, frame.name]);
      note(`${frame.name} joined`);
      break;
    case "left":
      setRoster(roster.filter((n) => n !== frame.name));
      note(`${frame.name} left`);
      break;
    case "error":
      note(`Error: ${frame.message}`);
      break;
  }
}

function showChat(chat) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.dateTime = new Date(chat.ts).toISOString();
  time.textContent = new Date(chat.ts).toLocaleTimeString();
  const who = document.createElement("b");
  who.textContent = chat.name;
  item.append(time, who, chat.text);
  append(item);
}

function note(text) {
  const item = document.createElement("li");
  item.className = "system";
  item.textContent = text;
  append(item);
}

function append(item) {
  const atBottom = messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  messages.append(item);
  if (atBottom) messages.scrollTop = messages.scrollHeight;
}

function setRoster(names) {
  roster = names;
  users.replaceChildren(...names.map((n) => Object.assign(document.createElement("li"), { textContent: n })));
}

function setComposing(on) {
  input.disabled = !on;
  sendButton.disabled = !on;
  if (on) input.focus();
}
