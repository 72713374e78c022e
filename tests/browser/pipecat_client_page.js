// The test page for pipecat_client_test.mjs, bundled with esbuild: Pipecat's
// own client (@pipecat-ai/client-js + @pipecat-ai/websocket-transport), set
// up as docs/browser.md tells a front end to, against voxpipe's WS /ws.
// window.runClient({mode, wsUrl, endpoint}) connects one way or the other;
// window.record is what the client reported, and what the page played.
import { PipecatClient } from "@pipecat-ai/client-js";
import { WebSocketTransport, WavMediaManager } from "@pipecat-ai/websocket-transport";

const record = {
  states: [],
  botReady: null,
  botStarted: null,
  userTranscripts: [],
  botTranscripts: [],
  botOutputs: [],
  events: [],
  errors: [],
  connectResult: null,
  userStoppedAt: null,  // the first onUserStoppedSpeaking (performance.now())
  played: {},  // AudioContext sample rate -> {audibleMs, firstAudibleAt, audible}
  // The caller talking over the bot: from onUserStartedSpeaking while bot
  // audio was heard to the first meter reading below -50 dBFS that stays
  // so for 200 ms (20 ms resolution). The client flushes nothing, so this
  // is what the server had already sent.
  bargeIn: null,  // {stopMs}
};
const kStaysSilentMs = 200;
window.record = record;

// What reaches the speakers: every node connected to an AudioContext's
// destination also feeds an analyser of that context, read every 20 ms. The
// client plays bot audio on a context at its player rate (24 kHz).
const meterInterval = 20;
const meters = new Map();
const connect = AudioNode.prototype.connect;
AudioNode.prototype.connect = function (target, ...rest) {
  if (target instanceof AudioDestinationNode) {
    let meter = meters.get(this.context);
    if (!meter) {
      const analyser = this.context.createAnalyser();
      analyser.fftSize = 2048;
      meter = { analyser, buffer: new Float32Array(analyser.fftSize),
                stats: (record.played[this.context.sampleRate] = { audibleMs: 0, firstAudibleAt: null, audible: false }) };
      meters.set(this.context, meter);
    }
    connect.call(this, meter.analyser);
  }
  return connect.call(this, target, ...rest);
};
setInterval(() => {
  for (const { analyser, buffer, stats } of meters.values()) {
    analyser.getFloatTimeDomainData(buffer);
    const n = Math.round(analyser.context.sampleRate * meterInterval / 1000);
    let sum = 0;
    for (let i = buffer.length - n; i < buffer.length; i++) sum += buffer[i] * buffer[i];
    const dbfs = 10 * Math.log10(sum / n + 1e-12);
    stats.audible = dbfs > -50;
    if (stats.audible) {
      stats.audibleMs += meterInterval;
      if (stats.firstAudibleAt === null) stats.firstAudibleAt = performance.now();
    }
  }
  timeBargeIn();
}, meterInterval);

let bargeInAt = null, silentSince = null;
function botAudible() { return record.played[24000]?.audible ?? false; }
function startBargeIn() {
  if (record.bargeIn || !botAudible()) return;
  bargeInAt = performance.now();
  record.bargeIn = { stopMs: null };
}
function timeBargeIn() {
  if (!record.bargeIn || record.bargeIn.stopMs !== null) return;
  const now = performance.now();
  if (botAudible()) silentSince = null;
  else if (silentSince === null) silentSince = now;
  else if (now - silentSince >= kStaysSilentMs) record.bargeIn.stopMs = Math.round(silentSince - bargeInAt);
}

let client = null;

window.runClient = async ({ mode, wsUrl, endpoint }) => {
  const note = (name) => () => record.events.push(name);
  client = new PipecatClient({
    transport: new WebSocketTransport({ mediaManager: new WavMediaManager(512, 16000) }),
    enableMic: true,
    enableCam: false,
    callbacks: {
      onTransportStateChanged: (state) => record.states.push(state),
      onBotReady: (data) => { record.botReady = data; },
      onBotStarted: (reply) => { record.botStarted = reply; },
      onUserTranscript: (data) => record.userTranscripts.push(data),
      onBotTranscript: (data) => record.botTranscripts.push(data.text),
      onBotOutput: (data) => record.botOutputs.push(data.text),
      onBotStartedSpeaking: note("bot-started-speaking"),
      onBotStoppedSpeaking: note("bot-stopped-speaking"),
      onUserStartedSpeaking: () => {
        record.events.push("user-started-speaking");
        startBargeIn();
      },
      onUserStoppedSpeaking: () => {
        record.events.push("user-stopped-speaking");
        record.userStoppedAt ??= performance.now();
      },
      onTrackStarted: (track) => record.events.push(`track-started:${track.kind}`),
      onDisconnected: note("disconnected"),
      onError: (message) => record.errors.push(JSON.stringify(message.data ?? message)),
    },
  });
  try {
    const result = mode === "startBotAndConnect"
      ? await client.startBotAndConnect({ endpoint })
      : await client.connect({ wsUrl });
    record.connectResult = result ?? {};
  } catch (e) {
    record.errors.push(`${mode}: ${e.message || e}`);
  }
};

window.stopClient = async () => {
  if (client) await client.disconnect();
};
