// Headless Chromium against the real page: the server (voxpipe run
// pipelines/browser_gemini.yaml) and the Gemini emulator are started by
// run.sh (or scripts/demo-browser.sh --check); the microphone is a WAV file.
// Checks that the page connects, that the model heard speech, that bot
// audio arrived and played, and that both transcripts show. With
// --barge-in, the caller speaks again while the answer plays: the page's
// playback must go silent within kMaxStopMs of the message that says so
// (user-started-speaking or bot-interrupted), and the conversation goes on
// to a second answer. Prints what it measured.
// Usage: node page_test.mjs URL CHROMIUM WAV [--barge-in] [--screenshot FILE]
import puppeteer from "puppeteer-core";

const [url, chromium, wav, ...flags] = process.argv.slice(2);
const bargeIn = flags.includes("--barge-in");
const screenshot = flags.includes("--screenshot") ? flags[flags.indexOf("--screenshot") + 1] : "";
// Flushing the jitter buffer is immediate; this allows for the analyser's
// window and the audio thread's scheduling, not for audio left to play.
const kMaxStopMs = 100;

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
         `--use-file-for-fake-audio-capture=${wav}`, "--autoplay-policy=no-user-gesture-required"],
});
let failed = false;
const fail = (m) => { console.error("FAIL:", m); failed = true; };
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 390, height: 760 });
  page.on("console", (m) => console.log("page:", m.text()));
  await page.goto(url, { waitUntil: "load" });
  await page.click("#talk");
  await page.waitForFunction(() => document.getElementById("state").dataset.state === "ready", { timeout: 10000 });
  await page.waitForFunction((bargeIn) => {
    const s = window.voxpipe.stats;
    const replied = document.querySelector(".msg.user") && document.querySelector(".msg.bot") &&
                    s.latencies.length > 0 && s.audioSamples > 24000;
    if (!bargeIn) return replied;
    // The interrupted answer's stop is timed, and a second answer started.
    const timed = s.bargeIns.length > 0 && s.bargeIns[0].stopMs !== null;
    return replied && timed && s.latencies.length > 1;
  }, { timeout: 25000 }, bargeIn);
  const result = await page.evaluate(() => ({
    user: document.querySelector(".msg.user").textContent,
    bot: document.querySelector(".msg.bot").textContent,
    error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
    stats: window.voxpipe.stats,
  }));
  console.log(JSON.stringify(result));
  const { stats } = result;
  if (!/visiting hours/i.test(result.user)) fail(`user transcript: ${result.user}`);
  if (!/Visiting hours/.test(result.bot)) fail(`bot transcript: ${result.bot}`);
  if (result.error) fail(`page error: ${result.error}`);
  if (!(stats.audioSamples > 24000)) fail(`bot audio received: ${stats.audioSamples} samples`);
  if (!(stats.playbackStarts > 0)) fail("the player never started");
  console.log(`user said: ${result.user}`);
  console.log(`bot said: ${result.bot}`);
  console.log(`first-audio latency (user-stopped-speaking to the reply's first audio): ${stats.latencies.join(", ")} ms`);
  if (bargeIn) {
    const b = stats.bargeIns[0];
    if (!stats.events.includes("bot-interrupted")) fail("no bot-interrupted");
    if (b.stopMs === null || b.stopMs >= kMaxStopMs) fail(`barge-in: playback went on for ${b.stopMs} ms (at most ${kMaxStopMs})`);
    console.log(`barge-in: playback silent ${b.stopMs} ms after ${b.cause} reached the page`);
  }
  if (screenshot) await page.screenshot({ path: screenshot });
} catch (e) {
  fail(e.message);
  const pages = await browser.pages();
  const p = pages[pages.length - 1];
  if (p) console.error(await p.evaluate(() => JSON.stringify(window.voxpipe.stats) + document.querySelector("#chat").outerHTML));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
