// agentcast subscriber-protocol client for the dashboard (docs/subscriber-protocol.md).
// One WebSocket to /v1/subscribe with the viewer's key; on a drop it reconnects with
// `since` and `epoch`, so the page either gets every missed event or a fresh snapshot.

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 15000;

/**
 * Opens and keeps open a subscription.
 * handlers: {
 *   onStatus(status, detail)  status: "connecting" | "live" | "reconnecting" | "refused"
 *   onReset()                 a snapshot follows: forget every agent
 *   onState(state, live)      one agent.state (live=false while a snapshot is applied)
 *   onSnapshotDone()
 * }
 */
export function subscribe(key, handlers) {
  let epoch = null;
  let lastSeq = null;
  let retryMs = MIN_RETRY_MS;
  let reconnects = 0;
  let socket = null;

  function url() {
    const params = new URLSearchParams({ access_token: key, batch: "true" });
    if (lastSeq !== null && epoch !== null) {
      params.set("since", String(lastSeq));
      params.set("epoch", epoch);
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/v1/subscribe?${params}`;
  }

  function handle(frame) {
    switch (frame.type) {
      case "welcome":
        epoch = frame.epoch;
        retryMs = MIN_RETRY_MS;
        if (!frame.recovered) handlers.onReset();
        handlers.onStatus("live", { reconnects, recovered: frame.recovered, seq: frame.seq });
        break;
      case "snapshot":
        for (const state of frame.agents) handlers.onState(state, false);
        lastSeq = frame.seq;
        if (frame.last) handlers.onSnapshotDone();
        break;
      case "agent.state":
        handlers.onState(frame, true);
        lastSeq = frame.seq;
        break;
      case "error":
        console.warn("agentcast:", frame.code, frame.message);
        break;
    }
  }

  function connect() {
    handlers.onStatus(reconnects === 0 ? "connecting" : "reconnecting", { reconnects });
    socket = new WebSocket(url());
    socket.onmessage = (message) => {
      const frame = JSON.parse(message.data);
      if (Array.isArray(frame)) frame.forEach(handle);
      else handle(frame);
    };
    socket.onclose = (event) => {
      // 1002/1009 are client bugs; everything else (restart, stale, slow, network) is retried.
      reconnects += 1;
      handlers.onStatus("reconnecting", { reconnects, code: event.code, reason: event.reason });
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  }

  connect();
  return { close: () => socket && socket.close(1000) };
}

/** Polls a JSON endpoint every `everyMs`, calling `onData(json)` or `onError(message)`. */
export function poll(path, key, everyMs, onData, onError) {
  async function once() {
    try {
      const response = await fetch(path, {
        headers: { Authorization: `Bearer ${key}` },
        cache: "no-store",
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) onData(body);
      else onError(body.error || `${response.status} ${response.statusText}`);
    } catch (err) {
      onError(String(err));
    }
    setTimeout(once, everyMs);
  }
  once();
}
