// agentcast dashboard: a live grid of agents, a violations feed and the service's figures.
// Everything comes over the public API with the viewer's key: the subscriber protocol
// (/v1/subscribe) for states, /v1/metrics for rates and latency, /v1/webhooks for webhook
// health (admin keys only). Changes are applied at most once per animation frame, touching
// only the tiles that changed, so the page keeps up with thousands of agents.

import { poll, subscribe } from "./stream.js";

const FEED_MAX = 100;
const FLASH = [{ filter: "brightness(1.7)" }, { filter: "none" }];
const FLASH_TIMING = { duration: 600, easing: "ease-out" };
const KEY_STORAGE = "agentcast.key";

const $ = (id) => document.getElementById(id);
const agents = new Map(); // agentId → { state, tile }
const dirty = new Set(); // agentIds to redraw on the next frame
let frameRequested = false;
let snapshotDone = false;
let feedSize = 0;

// ---- the key: from ?access_token= (then removed from the address bar), or asked for

function takeKey() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("access_token");
  if (fromUrl) {
    sessionStorage.setItem(KEY_STORAGE, fromUrl);
    url.searchParams.delete("access_token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(KEY_STORAGE);
}

async function keyIsAccepted(key) {
  const response = await fetch("/v1/agents/_", {
    headers: { Authorization: `Bearer ${key}` },
    cache: "no-store",
  });
  return response.status !== 401;
}

function askForKey(message) {
  $("board").hidden = true;
  $("key-form").hidden = false;
  $("key-error").textContent = message || "";
  setConnection("refused", "no key");
  $("key-form").onsubmit = (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("key-input").value.trim());
    location.reload();
  };
}

// ---- connection indicator

function setConnection(status, text) {
  $("connection").className = `connection ${status}`;
  $("connection-text").textContent = text;
}

function onStatus(status, detail) {
  const again = detail.reconnects ? ` · ${detail.reconnects} reconnect${detail.reconnects === 1 ? "" : "s"}` : "";
  switch (status) {
    case "live":
      setConnection("live", `live${again}${detail.recovered ? " · recovered" : ""}`);
      break;
    case "connecting":
      setConnection("connecting", "connecting…");
      break;
    case "reconnecting":
      setConnection("reconnecting", `reconnecting${again}`);
      break;
  }
}

// ---- agents

function presenceClass(status) {
  switch ((status || "").replace(/\s+/g, "").toLowerCase()) {
    case "available": return "available";
    case "onqueue": return "onqueue";
    case "busy": case "meeting": case "training": return "busy";
    case "away": case "break": case "meal": case "idle": return "away";
    case "offline": return "offline";
    default: return "other";
  }
}

function capacityText(capacity) {
  const entries = Object.entries(capacity || {});
  if (entries.length === 0) return "?";
  return String(Math.max(...entries.map(([, max]) => max)));
}

function shiftText(onShift) {
  if (onShift === true) return "on shift";
  if (onShift === false) return "off shift";
  return "shift ?";
}

function newTile(agentId) {
  const tile = document.createElement("div");
  tile.className = "tile";
  tile.dataset.agentId = agentId;
  tile.innerHTML =
    '<div class="id"></div><div class="status"></div><div class="routing"></div>' +
    '<div class="meta"><span class="load"></span><span class="shift"></span></div>' +
    '<span class="badge"></span>';
  tile.querySelector(".id").textContent = agentId.slice(0, 8);
  return tile;
}

function drawTile(entry, flash) {
  const { state, tile } = entry;
  const matrix = state.availabilityStatusMatrix;
  const violations = state.violations || [];
  tile.className = `tile ${presenceClass(matrix.currentStatus)}${violations.length ? " violating" : ""}`;
  // The Web Animations API, not a CSS class: restarting a class animation forces a layout.
  if (flash) tile.animate(FLASH, FLASH_TIMING);
  tile.dataset.seq = state.seq;
  tile.querySelector(".status").textContent = matrix.currentStatus;
  tile.querySelector(".routing").textContent = matrix.routingStatus;
  tile.querySelector(".load").textContent = `${matrix.interactionLoad}/${capacityText(matrix.capacity)}`;
  tile.querySelector(".shift").textContent = shiftText(matrix.onShift);
  tile.querySelector(".badge").textContent = violations.map((v) => v.kind.replace("_", " ")).join(", ");
  const capacity = Object.entries(matrix.capacity || {}).map(([m, n]) => `${m} ${n}`).join(", ") || "unknown";
  tile.title =
    `${state.agentId}\n${matrix.currentStatus} · ${matrix.routingStatus}` +
    `\n${matrix.interactionLoad} interaction(s); capacity ${capacity}` +
    `\n${shiftText(matrix.onShift)}${matrix.scheduledActivity ? ` (${matrix.scheduledActivity})` : ""}` +
    `\nqueues: ${(matrix.queues || []).join(", ") || "none"}` +
    (violations.length ? `\n${violations.map((v) => `${v.kind}: ${v.detail}`).join("\n")}` : "");
  applyFilter(entry);
}

function onState(state, live) {
  let entry = agents.get(state.agentId);
  const before = entry ? violationKey(entry.state) : "";
  if (!entry) {
    entry = { state, tile: newTile(state.agentId), live };
    agents.set(state.agentId, entry);
    $("grid").appendChild(entry.tile);
  }
  entry.state = state;
  entry.live = live;
  const now = violationKey(state);
  if (now && now !== before) addToFeed(state, live);
  dirty.add(state.agentId);
  requestFrame();
}

function onReset() {
  agents.clear();
  dirty.clear();
  $("grid").replaceChildren();
  snapshotDone = false;
}

function onSnapshotDone() {
  snapshotDone = true;
  // Stable order for the eye: by agent id.
  const sorted = [...agents.values()].sort((a, b) => (a.state.agentId < b.state.agentId ? -1 : 1));
  $("grid").replaceChildren(...sorted.map((entry) => entry.tile));
  requestFrame();
}

function requestFrame() {
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(flush);
  }
}

function flush() {
  frameRequested = false;
  for (const agentId of dirty) {
    const entry = agents.get(agentId);
    if (entry) drawTile(entry, snapshotDone && entry.live);
  }
  dirty.clear();
  let violating = 0;
  for (const entry of agents.values()) if ((entry.state.violations || []).length) violating += 1;
  $("stat-agents").textContent = agents.size;
  $("stat-violating").textContent = violating;
  $("stat-violating").classList.toggle("bad", violating > 0);
  $("grid-empty").hidden = agents.size > 0;
}

// ---- grid filter

function applyFilter(entry) {
  const text = $("filter").value.trim().toLowerCase();
  const onlyViolations = $("only-violations").checked;
  const { state } = entry;
  const matrix = state.availabilityStatusMatrix;
  const haystack = `${state.agentId} ${matrix.currentStatus} ${matrix.routingStatus} ${(matrix.queues || []).join(" ")} ${shiftText(matrix.onShift)}`.toLowerCase();
  const show = (!onlyViolations || (state.violations || []).length > 0) && (!text || haystack.includes(text));
  entry.tile.hidden = !show;
}

function refilter() {
  for (const entry of agents.values()) applyFilter(entry);
}

// ---- violations feed

function violationKey(state) {
  return (state.violations || []).map((v) => `${v.kind}:${v.detail}`).join("|");
}

function addToFeed(state, live) {
  const item = document.createElement("li");
  item.dataset.agentId = state.agentId;
  const when = new Date(state.broadcastTimestamp || state.availabilityStatusMatrix.timestamp);
  const kinds = state.violations.map((v) => v.kind.replace("_", " ")).join(", ");
  const details = state.violations.map((v) => v.detail).join("; ");
  item.innerHTML = '<span class="when"></span> <span class="kind"></span> <span class="agent"></span><br><span class="detail"></span>';
  item.querySelector(".when").textContent = when.toLocaleTimeString() + (live ? "" : " (at connect)");
  item.querySelector(".kind").textContent = kinds;
  item.querySelector(".agent").textContent = state.agentId.slice(0, 8);
  item.querySelector(".agent").title = state.agentId;
  const matrix = state.availabilityStatusMatrix;
  item.querySelector(".detail").textContent = `${details} · ${matrix.currentStatus} · ${matrix.routingStatus}`;
  const feed = $("feed");
  feed.prepend(item);
  if (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  feedSize += 1;
  $("feed-count").textContent = `(${feedSize} seen)`;
  $("feed-empty").hidden = true;
}

// ---- figures: rates from the difference between two polls of /v1/metrics

function watchFigures(key) {
  let previous = null;
  const formatMs = (ms) => (ms === null || ms === undefined ? "–" : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
  poll("/v1/metrics", key, 1000, (m) => {
    const now = performance.now();
    if (previous) {
      const secs = (now - previous.at) / 1000;
      $("stat-events").textContent = ((m.total_broadcasts - previous.broadcasts) / secs).toFixed(0);
      $("stat-deliveries").textContent = ((m.deliveries - previous.deliveries) / secs).toFixed(0);
    }
    previous = { at: now, broadcasts: m.total_broadcasts, deliveries: m.deliveries };
    $("stat-latency").textContent = `${formatMs(m.latency_p50_ms)} / ${formatMs(m.latency_p99_ms)} ms`;
    $("stat-subscribers").textContent = m.active_subscribers;
  }, (error) => {
    $("stat-events").textContent = "–";
    $("stat-latency").textContent = error;
  });

  poll("/v1/webhooks", key, 2000, (body) => {
    const endpoints = body.endpoints || [];
    if (endpoints.length === 0) {
      $("stat-webhooks").textContent = "none configured";
      return;
    }
    const healthy = endpoints.filter((e) => e.enabled && !e.failing_since).length;
    const pending = endpoints.reduce((sum, e) => sum + e.pending, 0);
    const dead = endpoints.reduce((sum, e) => sum + e.dead_letters, 0);
    const el = $("stat-webhooks");
    el.textContent = `${healthy}/${endpoints.length} healthy · ${pending} pending · ${dead} dead letters`;
    el.classList.toggle("bad", healthy < endpoints.length || dead > 0);
    el.title = endpoints
      .map((e) => `${e.url}: ${e.enabled ? (e.failing_since ? `failing since ${e.failing_since}` : "healthy") : `disabled (${e.disabled_reason})`}`)
      .join("\n");
  }, (error) => {
    $("stat-webhooks").textContent = error.includes("admin") ? "needs an admin key" : error;
  });
}

// ---- start

async function start() {
  const key = takeKey();
  if (!key) return askForKey();
  try {
    if (!(await keyIsAccepted(key))) {
      sessionStorage.removeItem(KEY_STORAGE);
      return askForKey("That key was not accepted (401).");
    }
  } catch (err) {
    setConnection("reconnecting", "agentcast unreachable; retrying");
    return setTimeout(start, 2000);
  }
  $("key-form").hidden = true;
  $("board").hidden = false;
  $("filter").addEventListener("input", refilter);
  $("only-violations").addEventListener("change", refilter);
  subscribe(key, { onStatus, onReset, onState, onSnapshotDone });
  watchFigures(key);
}

start();
