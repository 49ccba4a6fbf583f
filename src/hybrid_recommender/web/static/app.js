// The page: live camera over a WebSocket (one frame in flight), uploads over POST /api/recommend, and one
// renderer for both results (the `recommend --json` schema plus each film's year and genres).
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
};
const pct = (p) => `${Math.round(p * 100)}%`;
const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];

let config = { frame_size: [640, 480], frame_rate: 12 };

// ---------------------------------------------------------------------------------------------- results
function viewerLine(v) {
  const emotion = v.emotion_low_confidence
    ? `${v.emotion_detected} ${pct(v.emotion_confidence)} (unsure: used as neutral)`
    : `${v.emotion} ${pct(v.emotion_confidence)}`;
  return `age ${v.age_group} ${pct(v.age_group_confidence)} · ${v.gender} ${pct(v.gender_confidence)} · ${emotion}`;
}

function filmTitle(f) {              // MovieLens titles end in "(year)": the year has its own column
  return f.year ? f.title.replace(new RegExp(`\\s*\\(${f.year}\\)$`), "") : f.title;
}

function groupText(g) {
  if (!g || typeof g !== "object") return g || "-";
  const ages = (g.age_groups || []).join("/") || "any age";
  return `${ages}, ${g.gender || "any gender"} (${g.n_users} MovieLens users, ${g.n_ratings} ratings)`;
}

function explanationText(doc) {
  const ex = doc.explanation || {};
  if (doc.mode === "cold_start") return `${ex.cold_start}: ${ex.rule}`;
  if (doc.mode === "group") {
    const room = ex.room_emotion ? `, room emotion ${ex.room_emotion}` : "";
    return `Group of ${doc.viewers.length} by ${ex.strategy.replace("_", " ")}${room}; emotions used: ` +
      `${(ex.viewer_emotions_used || []).join(", ")}. ${ex.utility || ""}`;
  }
  return `Favoured cluster ${ex.favoured_cluster} (${ex.favoured_cluster_top_genres}); ` +
    `group used: ${groupText(ex.group)}; group fallback: ${ex.fallback || "none"}; stance ${ex.stance || "-"}.`;
}

function renderResult(box, doc) {
  box.replaceChildren();
  box.dataset.mode = doc.mode;
  if (doc.mode === "cold_start") {
    box.append(el("p", { className: "cold-start" },
      el("strong", { textContent: "Cold-start list. " }),
      `No usable face (${doc.fallback.reason}), so this is not a personal list: it is ${doc.fallback.list}. ` +
      "Nothing was guessed about you."));
  }
  if (doc.viewers.length) {
    const rows = doc.viewers.map((v, i) => {
      const c = v.contribution;
      const share = c ? ` — contribution: mean utility ${c.mean_utility.toFixed(2)}, share ` +
        `${pct(c.share_of_group_score)}, ${c.films_from_own_top_n} of the films from their own top list` : "";
      return el("li", { className: "viewer", style: `border-color:${COLOURS[(v.viewer_id - 1) % COLOURS.length]}` },
        el("strong", { textContent: `Viewer ${v.viewer_id}: ` }), viewerLine(v) + share);
    });
    box.append(el("ul", { className: "viewers" }, ...rows));
  }
  box.append(el("p", { className: "explanation", textContent: explanationText(doc) }));
  const scoreName = { cold_start: "rank score", group: "group score" }[doc.mode] || "predicted score";
  const films = doc.recommendations.map((f) => el("li", { className: "film" },
    el("span", { className: "title", textContent: filmTitle(f) }),
    el("span", { className: "year", textContent: f.year ? ` ${f.year}` : "" }),
    el("span", { className: "genres", textContent: (f.genres || []).join(", ") }),
    el("span", { className: "score", textContent: `${scoreName} ${f.score.toFixed(3)}` })));
  box.append(el("ol", { className: "films" }, ...films));
  if (doc.notes.length) box.append(el("ul", { className: "notes" }, ...doc.notes.map((n) => el("li", { textContent: n }))));
  const took = doc.input_kind === "camera" ? `${doc.frames} frames` : `${doc.frames} frame(s) in ${Math.round(doc.seconds * 1000)} ms`;
  box.append(el("p", { className: "source", textContent: `from ${doc.input} (${took})` }));
}

function renderError(box, message) {
  box.replaceChildren(el("p", { className: "error", role: "alert", textContent: message }));
  box.dataset.mode = "error";
}

// ---------------------------------------------------------------------------------------------- live camera
const live = { socket: null, stream: null, inFlight: false, sent: 0, lastSent: 0, timer: null, replies: [],
  session: null, capture: document.createElement("canvas") };

function drawFaces(msg) {
  const overlay = $("overlay");
  const ctx = overlay.getContext("2d");
  overlay.width = msg.width; overlay.height = msg.height;
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  ctx.lineWidth = 3; ctx.font = "bold 15px sans-serif";
  const items = [];
  for (const face of msg.faces) {
    const [x1, y1, x2, y2] = face.box;
    const colour = COLOURS[(face.track_id - 1) % COLOURS.length];
    ctx.strokeStyle = colour; ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const v = face.viewer;
    const lines = v ? [`#${face.track_id} age ${v.age_group} ${pct(v.age_group_confidence)}`,
      `${v.gender} ${pct(v.gender_confidence)}`,
      `${v.emotion_detected} ${pct(v.emotion_confidence)}${v.emotion_low_confidence ? " → neutral" : ""}`]
      : [`#${face.track_id} reading...`];
    const top = Math.max(0, y1 - 20 * lines.length);
    ctx.fillStyle = "rgba(0,0,0,0.65)";
    ctx.fillRect(x1, top, Math.max(170, x2 - x1), 20 * lines.length);
    ctx.fillStyle = "#fff";
    lines.forEach((line, i) => ctx.fillText(line, x1 + 4, top + 15 + 20 * i));
    items.push(el("li", { className: v ? "face read" : "face", textContent: lines.join(" · ") }));
  }
  overlay.dataset.boxes = String(msg.faces.length);
  $("live-faces").replaceChildren(...items);
}

function onLiveMessage(event) {
  const msg = JSON.parse(event.data);
  if (msg.type === "ready") { live.session = msg.session; scheduleFrame(); return; }
  if (msg.type === "settings") return;
  if (msg.type === "frame" || (msg.type === "error" && msg.frame !== undefined)) live.inFlight = false;
  if (msg.type === "error") {
    $("live-status").textContent = `error: ${msg.error}`;
  } else {
    if (msg.session !== live.session || msg.frame !== live.sent) {   // never show another client's frame
      $("live-status").textContent = `out of step (frame ${msg.frame}, sent ${live.sent}): ignored`;
    } else {
      drawFaces(msg);
      if (msg.list) renderResult($("live-result"), msg.list);
      const now = performance.now();                       // updates per second over the last 3 s
      live.replies = live.replies.filter((t) => now - t < 3000).concat([now]);
      const span = (now - live.replies[0]) / 1000;
      const rate = span > 0 ? (live.replies.length - 1) / span : 0;
      $("live-status").textContent = `${rate.toFixed(1)} updates/s · server ` +
        `${msg.ms.toFixed(0)} ms/frame · list ${msg.list_version} · session ${live.session.slice(0, 8)}`;
    }
  }
  scheduleFrame();
}

function scheduleFrame() {
  clearTimeout(live.timer);
  const wait = Math.max(0, 1000 / config.frame_rate - (performance.now() - live.lastSent));
  live.timer = setTimeout(sendFrame, wait);
}

function sendFrame() {
  const video = $("video");
  if (live.inFlight || !live.socket || live.socket.readyState !== WebSocket.OPEN || video.readyState < 2) {
    if (live.socket) live.timer = setTimeout(sendFrame, 50);
    return;
  }
  const [w, h] = config.frame_size;
  live.capture.width = w; live.capture.height = h;
  live.capture.getContext("2d").drawImage(video, 0, 0, w, h);
  live.inFlight = true;                                   // at most one frame in flight per client
  live.lastSent = performance.now();
  live.capture.toBlob((blob) => {
    if (!blob || !live.socket) { live.inFlight = false; scheduleFrame(); return; }
    blob.arrayBuffer().then((buffer) => { live.sent += 1; live.socket.send(buffer); });
  }, "image/jpeg", 0.8);
}

async function startCamera() {
  try {
    const [width, height] = config.frame_size;
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width, height }, audio: false });
  } catch (err) {
    $("live-status").textContent = `no camera: ${err.message || err.name} (allow the camera, or upload a photo)`;
    return;
  }
  const video = $("video");
  video.srcObject = live.stream;
  await video.play();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  live.socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  live.socket.binaryType = "arraybuffer";
  live.sent = 0; live.inFlight = false; live.replies = [];
  live.socket.onopen = () => sendChoice();
  live.socket.onmessage = onLiveMessage;
  live.socket.onclose = (e) => { if (live.socket) $("live-status").textContent = `disconnected ${e.reason || ""}`; };
  $("camera-start").disabled = true; $("camera-stop").disabled = false;
  $("live-status").textContent = "camera on, connecting...";
}

function stopCamera() {
  clearTimeout(live.timer);
  const socket = live.socket; live.socket = null;
  if (socket) socket.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  $("video").srcObject = null;
  $("camera-start").disabled = false; $("camera-stop").disabled = true;
  $("live-status").textContent = "camera off";
}

function sendChoice() {
  if (live.socket && live.socket.readyState === WebSocket.OPEN) {
    live.socket.send(JSON.stringify({ type: "settings", group_strategy: $("strategy").value }));
  }
}

// ---------------------------------------------------------------------------------------------- upload
async function upload(event) {
  event.preventDefault();
  const box = $("upload-result");
  box.replaceChildren(el("p", { className: "pending", textContent: "reading..." }));
  box.dataset.mode = "pending";
  const query = new URLSearchParams({ movie_details: "true", group_strategy: $("strategy").value });
  try {
    const response = await fetch(`/api/recommend?${query}`, { method: "POST", body: new FormData($("upload-form")) });
    const doc = await response.json();
    if (!response.ok) renderError(box, `${doc.error} (HTTP ${response.status})`);
    else renderResult(box, doc);
  } catch (err) {
    renderError(box, `the server did not answer: ${err.message}`);
  }
}

// ---------------------------------------------------------------------------------------------- model card
async function openModelCard() {
  $("model-card").showModal();
  const card = await (await fetch("/api/model-card")).json();
  $("model-card-text").textContent = card.description || "This predictor has no model card.";
  $("model-card-json").textContent = JSON.stringify(card.model_card, null, 2);
}

async function init() {
  config = await (await fetch("/api/config")).json();
  $("strategy").value = config.group_strategy;
  $("upload-limits").textContent = `Up to ${config.max_upload_mb} MB and ${config.max_megapixels} megapixels; ` +
    `photos ${config.image_types.join(" ")}; videos ${config.video_types.join(" ")} (first ` +
    `${config.max_video_frames} frames).`;
  if (config.saves_frames) {
    $("privacy").textContent = "Privacy: this server was started with --save-frames, so it WRITES every live " +
      "camera frame to its disk. Photos are still read in memory.";
    $("privacy").classList.add("warning");
  }
  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", stopCamera);
  $("strategy").addEventListener("change", sendChoice);
  $("upload-form").addEventListener("submit", upload);
  $("model-card-open").addEventListener("click", openModelCard);
  document.body.dataset.ready = "true";
}

init();
