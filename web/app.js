// The voice chat page: Pipecat's client protocol (binary protobuf
// pipecat.Frame messages, RTVI JSON inside) spoken directly, no build step.
// The microphone goes out as 16 kHz PCM16; bot audio (24 kHz PCM16) plays
// through a small jitter buffer that is flushed the moment the user barges in.

const MIC_RATE = 16000;
const PLAYER_RATE = 24000;

// --- pipecat.Frame, by hand (processors/browser/pipecat.proto)
const enc = new TextEncoder();
const dec = new TextDecoder();

function varint(out, v) {
  while (v >= 0x80) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
}
function lengthField(out, field, bytes) {
  varint(out, (field << 3) | 2);
  varint(out, bytes.length);
  for (const b of bytes) out.push(b);
}
function frame(field, inner) {
  const out = [];
  lengthField(out, field, inner);
  return new Uint8Array(out);
}
function encodeAudio(pcm16) {  // Frame.audio: name, audio, sample_rate, num_channels
  const inner = [];
  lengthField(inner, 2, enc.encode("audio"));
  lengthField(inner, 3, new Uint8Array(pcm16.buffer, pcm16.byteOffset, pcm16.byteLength));
  varint(inner, (4 << 3) | 0); varint(inner, MIC_RATE);
  varint(inner, (5 << 3) | 0); varint(inner, 1);
  return frame(2, inner);
}
function encodeMessage(json) {  // Frame.message: data
  const inner = [];
  lengthField(inner, 1, enc.encode(JSON.stringify(json)));
  return frame(4, inner);
}
// Returns {audio: ArrayBuffer} or {message: object} or null.
function decodeFrame(buf) {
  const b = new Uint8Array(buf);
  let p = 0;
  const readVarint = (end) => {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new Error("truncated");
      const x = b[p++];
      v += (x & 0x7f) * mul;
      if (!(x & 0x80)) return v;
      mul *= 128;
    }
    throw new Error("varint too long");
  };
  const skip = (type, end) => {
    if (type === 0) readVarint(end);
    else if (type === 2) { const n = readVarint(end); p += n; }  // not `p += readVarint()`: p is read first
    else if (type === 1) p += 8;
    else if (type === 5) p += 4;
    else throw new Error("bad wire type");
    if (p > end) throw new Error("truncated");
  };
  let result = null;
  while (p < b.length) {
    const tag = readVarint(b.length);
    const field = Math.floor(tag / 8), type = tag & 7;
    if ((field === 2 || field === 4) && type === 2) {
      const len = readVarint(b.length);
      const end = p + len;
      if (end > b.length) throw new Error("truncated");
      result = field === 2 ? { audio: null } : { message: null };
      while (p < end) {
        const t = readVarint(end);
        const f = Math.floor(t / 8), ty = t & 7;
        if (ty === 2 && ((field === 2 && f === 3) || (field === 4 && f === 1))) {
          const n = readVarint(end);
          if (p + n > end) throw new Error("truncated");
          const bytes = b.subarray(p, p + n);
          if (field === 2) result.audio = bytes.slice().buffer;
          else result.message = JSON.parse(dec.decode(bytes));
          p += n;
        } else skip(ty, end);
      }
    } else skip(type, b.length);
  }
  return result;
}

// --- the page
const $ = (id) => document.getElementById(id);
const ui = { state: $("state"), chat: $("chat"), error: $("error"), talk: $("talk"), ptt: $("ptt"),
             latency: $("latency"), text: $("text"), send: $("send"), form: $("text-form") };

let ws = null, micContext = null, playerContext = null, player = null, mic = null, micStream = null;
let output = null, playerPlaying = false, bargeInProbe = null;
let connected = false, userStoppedAt = 0, awaitingReply = false, pttHeld = false;
let userBubble = null, botBubble = null;

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.state.textContent = text;
}
function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
  if (text) setState("error", "Error");
}
function bubble(who, text, partial) {
  const el = document.createElement("p");
  el.className = `msg ${who}` + (partial ? " partial" : "");
  el.textContent = text;
  ui.chat.append(el);
  ui.chat.scrollTop = ui.chat.scrollHeight;
  return el;
}
function rtvi(type, data, id) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const message = { label: "rtvi-ai", type, id: id || Math.random().toString(16).slice(2, 10) };
  if (data !== undefined) message.data = data;
  ws.send(encodeMessage(message));
}
function flushPlayback(cause) {
  if (!player) return;
  measureBargeIn(cause);
  player.port.postMessage({ type: "flush" });
}
function micEnabled() { return connected && (!ui.ptt.checked || pttHeld); }
function updateMic() { if (mic) mic.port.postMessage({ type: "enable", value: micEnabled() }); }

// What the page did, for tests/browser and the console. latencies: ms from
// user-stopped-speaking to a reply's first audio; bargeIns: {cause, stopMs}
// per flush while the bot was heard (stopMs null: it did not go silent).
const stats = { events: [], audioMessages: 0, audioSamples: 0, playbackStarts: 0, latencies: [], bargeIns: [] };

// Barge-in as heard: from the message that flushes the player to the
// player's output going silent (an analyser between it and the speakers).
// Silent means below -60 dBFS over the analyser's window (10.7 ms) and for
// kStaysSilentMs after, so a pause between words does not count; stopMs is
// the first silent reading, an upper bound by up to the window.
const kSilence = 0.001;
const kStaysSilentMs = 200;
function outputAudible() {
  output.getFloatTimeDomainData(output.samples);
  return output.samples.some((x) => Math.abs(x) > kSilence);
}
function measureBargeIn(cause) {
  if (!output || bargeInProbe || !(playerPlaying || outputAudible())) return;
  const at = performance.now();
  const result = { cause, stopMs: null };
  stats.bargeIns.push(result);
  let silentSince = null;
  bargeInProbe = setInterval(() => {
    const now = performance.now();
    if (!output || now - at > 2000) { clearInterval(bargeInProbe); bargeInProbe = null; return; }
    if (outputAudible()) silentSince = null;
    else if (silentSince === null) silentSince = now;
    else if (now - silentSince >= kStaysSilentMs) {
      result.stopMs = Math.round(silentSince - at);
      clearInterval(bargeInProbe);
      bargeInProbe = null;
    }
  }, 2);
}

function onRtvi(m) {
  const data = m.data || {};
  stats.events.push(m.type);
  switch (m.type) {
    case "bot-ready":
      setState("ready", ui.ptt.checked ? "Connected — hold Space to talk" : "Connected — listening");
      break;
    case "user-started-speaking":
      flushPlayback(m.type);
      ui.talk.classList.add("speaking");
      break;
    case "user-stopped-speaking":
      ui.talk.classList.remove("speaking");
      userStoppedAt = performance.now();
      awaitingReply = true;
      break;
    case "bot-interrupted":
      flushPlayback(m.type);
      botBubble = null;
      break;
    case "user-transcription":
      // Gemini sends the user's words in pieces: they add up until `final`.
      if (!userBubble) userBubble = bubble("user", "", !data.final);
      userBubble.textContent = (userBubble.textContent + data.text).trimStart();
      userBubble.classList.toggle("partial", !data.final);
      if (data.final) { userBubble = null; botBubble = null; }
      break;
    case "bot-transcription":
      if (!botBubble) botBubble = bubble("bot", "");
      botBubble.textContent = (botBubble.textContent + data.text).trimStart();
      break;
    case "bot-stopped-speaking":
      botBubble = null;
      break;
    case "error":
      showError(data.fatal ? `The assistant is unavailable: ${data.error || data.message}` : (data.error || data.message));
      break;
    case "error-response":
      showError(data.error);
      break;
  }
}

function onAudio(buffer) {
  stats.audioMessages++;
  stats.audioSamples += buffer.byteLength / 2;
  if (awaitingReply && userStoppedAt) {
    const latency = Math.round(performance.now() - userStoppedAt);
    stats.latencies.push(latency);
    ui.latency.textContent = `${latency} ms`;
    awaitingReply = false;
  }
  if (player) player.port.postMessage(buffer, [buffer]);
}

async function start() {
  showError("");
  setState("connecting", "Connecting…");
  ui.talk.disabled = true;
  try {
    micStream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  } catch (e) {
    ui.talk.disabled = false;
    showError("Microphone access was refused. Allow the microphone for this page and try again.");
    return;
  }
  try {
    playerContext = new AudioContext({ sampleRate: PLAYER_RATE, latencyHint: "interactive" });
    await playerContext.audioWorklet.addModule("audio-worklet.js");
    player = new AudioWorkletNode(playerContext, "bot-player", { outputChannelCount: [1] });
    output = playerContext.createAnalyser();
    output.fftSize = 256;
    output.samples = new Float32Array(output.fftSize);
    player.connect(output).connect(playerContext.destination);
    player.port.onmessage = (e) => {
      if (!e.data) return;
      if (e.data.type === "playing") { stats.playbackStarts++; playerPlaying = true; }
      if (e.data.type === "idle") playerPlaying = false;
    };
    let rate = MIC_RATE;
    try { micContext = new AudioContext({ sampleRate: MIC_RATE }); } catch { micContext = new AudioContext(); rate = micContext.sampleRate; }
    if (micContext !== playerContext) await micContext.audioWorklet.addModule("audio-worklet.js");
    const source = micContext.createMediaStreamSource(micStream);
    mic = new AudioWorkletNode(micContext, "mic-capture", { processorOptions: { targetRate: MIC_RATE } });
    void rate;
    source.connect(mic);
    // A silent sink keeps the capture node pulled by the graph in every browser.
    const sink = micContext.createGain();
    sink.gain.value = 0;
    mic.connect(sink).connect(micContext.destination);
    mic.port.onmessage = (e) => { if (micEnabled() && ws && ws.readyState === WebSocket.OPEN) ws.send(encodeAudio(new Int16Array(e.data))); };
  } catch (e) {
    stop();
    showError(`Audio could not start: ${e.message}`);
    return;
  }
  let wsUrl;
  try {
    const response = await fetch("start" + location.search, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(body.detail || `HTTP ${response.status}`);
    }
    const reply = await response.json();
    wsUrl = reply.wsUrl + (reply.token ? `?token=${encodeURIComponent(reply.token)}` : "");
  } catch (e) {
    stop();
    showError(`The server cannot be reached (${e.message}).`);
    return;
  }
  ws = new WebSocket(wsUrl);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => {
    connected = true;
    updateMic();
    ui.talk.disabled = false;
    ui.talk.textContent = "Stop";
    ui.talk.setAttribute("aria-pressed", "true");
    ui.text.disabled = ui.send.disabled = false;
    setState("connecting", "Waiting for the assistant…");
    rtvi("client-ready", { version: "2.1.0", about: { library: "voxpipe-web", library_version: "1" } });
  };
  ws.onmessage = (e) => {
    if (!(e.data instanceof ArrayBuffer)) return;
    let f;
    try { f = decodeFrame(e.data); } catch (err) { console.warn("bad frame", err); return; }
    if (!f) return;
    if (f.audio) onAudio(f.audio);
    else if (f.message && f.message.label === "rtvi-ai") onRtvi(f.message);
  };
  ws.onclose = (e) => {
    const wasConnected = connected;
    stop();
    if (!wasConnected) showError("The server cannot be reached.");
    else if (e.code !== 1000 && e.code !== 1005) showError(`Disconnected: ${e.reason || "connection lost"} (${e.code}).`);
  };
}

function stop() {
  connected = false;
  if (ws) { rtvi("disconnect-bot", {}); ws.onclose = null; ws.close(); ws = null; }
  if (micStream) micStream.getTracks().forEach((t) => t.stop());
  if (micContext) micContext.close();
  if (playerContext) playerContext.close();
  micStream = micContext = playerContext = player = mic = output = null;
  playerPlaying = false;
  ui.talk.disabled = false;
  ui.talk.textContent = "Start talking";
  ui.talk.setAttribute("aria-pressed", "false");
  ui.talk.classList.remove("speaking");
  ui.text.disabled = ui.send.disabled = true;
  if (ui.state.dataset.state !== "error") setState("idle", "Not connected");
}

ui.talk.addEventListener("click", () => (ws ? stop() : start()));
ui.ptt.addEventListener("change", updateMic);
ui.form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  bubble("user", text);
  botBubble = null;
  rtvi("send-text", { content: text, options: { run_immediately: true, audio_response: true } });
  userStoppedAt = performance.now();
  awaitingReply = true;
  ui.text.value = "";
});
const typing = () => document.activeElement === ui.text;
window.addEventListener("keydown", (e) => {
  if (e.code !== "Space" || typing() || !ui.ptt.checked || e.repeat) return;
  e.preventDefault();
  pttHeld = true;
  updateMic();
});
window.addEventListener("keyup", (e) => {
  if (e.code !== "Space" || typing() || !ui.ptt.checked) return;
  e.preventDefault();
  pttHeld = false;
  updateMic();
});

// For tests (tests/browser): what the page did.
window.voxpipe = { encodeAudio, encodeMessage, decodeFrame, stats };
