// Pipecat's own browser client against voxpipe, in headless Chromium with a
// WAV file as the microphone: pipecat_client_run.sh starts the emulator,
// `voxpipe run pipelines/browser_gemini.yaml` and a static server for the
// bundled pipecat_client_page.js on another origin. Connects once with
// connect({wsUrl}) and once with startBotAndConnect({endpoint}) (POST
// /start), each in a fresh page, and checks what the client reports: state
// "ready", onBotReady, both transcripts, bot-started-speaking, bot audio
// played, no error, and a clean disconnect. The caller asks again over the
// answer: the client flushes nothing, so what it still plays is what the
// server sent ahead (its lead, 50 ms); that must end within kMaxStopMs.
// Usage: node pipecat_client_test.mjs PAGE_URL SERVER_URL CHROMIUM WAV
import puppeteer from "puppeteer-core";

const [pageUrl, serverUrl, chromium, wav] = process.argv.slice(2);
const wsUrl = serverUrl.replace(/^http/, "ws") + "ws";
const modes = [
  { mode: "connect", wsUrl },
  { mode: "startBotAndConnect", endpoint: serverUrl + "start" },
];
const kAudibleMs = 500;  // of bot speech played before the page is done
// What plays on is the server's 50 ms lead, plus the audio thread's and the
// 20 ms meter's granularity: 86-130 ms measured, the higher under load. A
// server that went on sending after the interruption would be heard for the
// rest of the answer, seconds.
const kMaxStopMs = 250;

let failed = false;
const fail = (mode, m) => { console.error(`FAIL (${mode}):`, m); failed = true; };

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         `--use-file-for-fake-audio-capture=${wav}`, "--autoplay-policy=no-user-gesture-required"],
});
try {
  for (const params of modes) {
    const { mode } = params;
    const page = await browser.newPage();
    const consoleErrors = [];
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => consoleErrors.push(e.message));
    await page.goto(pageUrl, { waitUntil: "load" });
    const started = Date.now();
    await page.evaluate((p) => { window.runClient(p); }, params);
    try {
      await page.waitForFunction((audible) => {
        const r = window.record;
        return (r.errors.length > 0) ||
               (r.states.includes("ready") && r.botReady && r.userTranscripts.length > 0 && r.botTranscripts.length > 0 &&
                r.events.includes("bot-started-speaking") && (r.played[24000]?.audibleMs ?? 0) >= audible &&
                r.bargeIn?.stopMs != null);
      }, { timeout: 20000 }, kAudibleMs);
    } catch (e) {
      fail(mode, `timed out: ${e.message}`);
    }
    const elapsed = Date.now() - started;
    await page.evaluate(() => window.stopClient());
    await page.waitForFunction(() => window.record.states.at(-1) === "disconnected", { timeout: 5000 })
      .catch(() => fail(mode, "disconnect() did not reach state disconnected"));
    const r = await page.evaluate(() => window.record);
    console.log(`${mode}: ${JSON.stringify({ ...r, elapsedMs: elapsed })}`);

    if (!r.states.includes("ready")) fail(mode, `never ready: ${r.states.join(" → ")}`);
    if (!r.botReady || !/^2\./.test(r.botReady.version)) fail(mode, `bot-ready: ${JSON.stringify(r.botReady)}`);
    if (!r.connectResult) fail(mode, `${mode}() did not resolve`);
    const finalUser = r.userTranscripts.find((t) => t.final);
    if (!finalUser || !/visiting hours/i.test(finalUser.text)) fail(mode, `user transcript: ${JSON.stringify(r.userTranscripts)}`);
    // The model's transcript comes word by word with its audio (as Gemini
    // sends it), and stops where the caller interrupted.
    if (!/^Visiting hours/.test(r.botTranscripts.join(""))) fail(mode, `bot transcript: ${JSON.stringify(r.botTranscripts)}`);
    if (!/^Visiting hours/.test(r.botOutputs.join(""))) fail(mode, `bot output: ${JSON.stringify(r.botOutputs)}`);
    if (!r.events.includes("bot-started-speaking")) fail(mode, "no onBotStartedSpeaking");
    if (!r.events.includes("track-started:audio")) fail(mode, "no onTrackStarted for the microphone");
    const played = r.played[24000];
    if (!played || played.audibleMs < kAudibleMs) fail(mode, `bot audio played: ${JSON.stringify(r.played)}`);
    if (mode === "startBotAndConnect" && r.botStarted?.wsUrl !== wsUrl) {
      fail(mode, `POST /start answered ${JSON.stringify(r.botStarted)}, expected wsUrl ${wsUrl}`);
    }
    if (!r.bargeIn || r.bargeIn.stopMs === null || r.bargeIn.stopMs >= kMaxStopMs) {
      fail(mode, `barge-in: bot audio went on ${JSON.stringify(r.bargeIn)} (at most ${kMaxStopMs} ms)`);
    }
    if (r.errors.length) fail(mode, `onError / rejected: ${r.errors.join("; ")}`);
    if (consoleErrors.length) fail(mode, `console errors: ${consoleErrors.join("; ")}`);
    if (!failed) {
      const latency = Math.round(played.firstAudibleAt - r.userStoppedAt);
      console.log(`${mode}: ready, bot ready, transcripts, ${played.audibleMs} ms of bot audio heard, ` +
                  `first heard ${latency} ms after onUserStoppedSpeaking, ` +
                  `silent ${r.bargeIn.stopMs} ms after the barge-in's onUserStartedSpeaking`);
    }
    await page.close();
  }
} catch (e) {
  fail("test", e.stack || e.message);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
