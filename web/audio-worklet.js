// Two AudioWorklet processors for the voice chat page.
//
// "mic-capture": the microphone as 16 kHz mono PCM16, posted in 20 ms
// chunks (an ArrayBuffer each). When the context runs at another rate, it
// resamples by linear interpolation.
//
// "bot-player": plays 24 kHz mono PCM16 posted to it, with a small jitter
// buffer (playback starts once `prebuffer` samples are queued, and again
// after an underrun); {type: "flush"} drops everything queued at once
// (barge-in). It posts {type: "playing"} / {type: "idle"} as it starts and
// runs dry.
class MicCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.targetRate = (options.processorOptions && options.processorOptions.targetRate) || 16000;
    this.step = sampleRate / this.targetRate;  // input samples per output sample
    this.pos = 0;
    this.last = 0;
    this.chunk = new Int16Array(this.targetRate / 50);
    this.fill = 0;
    this.enabled = true;
    this.port.onmessage = (e) => { if (e.data && e.data.type === "enable") this.enabled = e.data.value; };
  }
  process(inputs) {
    const input = inputs[0];
    if (!input || input.length === 0 || !this.enabled) return true;
    const n = input[0].length;
    const mono = new Float32Array(n);
    for (let c = 0; c < input.length; c++) for (let i = 0; i < n; i++) mono[i] += input[c][i] / input.length;
    // Output sample k lies at input position pos (index -1 is the previous block's last sample).
    const at = (j) => (j < 0 ? this.last : mono[j]);
    while (this.pos <= n - 1) {
      const j = Math.floor(this.pos);
      const f = this.pos - j;
      const v = f === 0 ? at(j) : at(j) + (at(j + 1) - at(j)) * f;
      const s = Math.max(-1, Math.min(1, v));
      this.chunk[this.fill++] = s < 0 ? s * 0x8000 : s * 0x7fff;
      if (this.fill === this.chunk.length) {
        this.port.postMessage(this.chunk.buffer, [this.chunk.buffer]);
        this.chunk = new Int16Array(this.targetRate / 50);
        this.fill = 0;
      }
      this.pos += this.step;
    }
    this.pos -= n;
    this.last = mono[n - 1];
    return true;
  }
}

class BotPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.prebuffer = (options.processorOptions && options.processorOptions.prebuffer) || 1440;  // 60 ms at 24 kHz
    this.queue = [];
    this.offset = 0;  // into queue[0]
    this.queued = 0;
    this.playing = false;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m instanceof ArrayBuffer) {
        const samples = new Int16Array(m);
        this.queue.push(samples);
        this.queued += samples.length;
      } else if (m && m.type === "flush") {
        this.queue = [];
        this.offset = 0;
        this.queued = 0;
        if (this.playing) { this.playing = false; this.port.postMessage({ type: "idle", flushed: true }); }
      }
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.queued >= this.prebuffer) {
      this.playing = true;
      this.port.postMessage({ type: "playing" });
    }
    let i = 0;
    if (this.playing) {
      while (i < out.length && this.queue.length > 0) {
        const head = this.queue[0];
        const n = Math.min(out.length - i, head.length - this.offset);
        for (let k = 0; k < n; k++) out[i + k] = head[this.offset + k] / 32768;
        i += n;
        this.offset += n;
        this.queued -= n;
        if (this.offset === head.length) { this.queue.shift(); this.offset = 0; }
      }
      if (this.queued === 0) { this.playing = false; this.port.postMessage({ type: "idle" }); }
    }
    for (; i < out.length; i++) out[i] = 0;
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    return true;
  }
}

registerProcessor("mic-capture", MicCapture);
registerProcessor("bot-player", BotPlayer);
