// Headless Chromium against the real page: the server (voxpipe run
// pipelines/browser_gemini.yaml) and the Gemini emulator are started by
// run.sh; the microphone is a WAV file. Checks that the page connects, that
// the model heard speech, that bot audio arrived and played, and that both
// transcripts show. Usage: node page_test.mjs URL CHROMIUM WAV SCREENSHOT
import puppeteer from "puppeteer-core";

const [url, chromium, wav, screenshot] = process.argv.slice(2);
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
  await page.waitForFunction(() => document.querySelector(".msg.user") && document.querySelector(".msg.bot") &&
                                   document.getElementById("latency").textContent.includes("ms") &&
                                   window.voxpipe.stats.audioSamples > 24000, { timeout: 30000 });
  const result = await page.evaluate(() => ({
    user: document.querySelector(".msg.user").textContent,
    bot: document.querySelector(".msg.bot").textContent,
    latency: document.getElementById("latency").textContent,
    error: document.getElementById("error").hidden ? "" : document.getElementById("error").textContent,
    stats: window.voxpipe.stats,
  }));
  console.log(JSON.stringify(result));
  if (!/visiting hours/i.test(result.user)) fail(`user transcript: ${result.user}`);
  if (!/Visiting hours/.test(result.bot)) fail(`bot transcript: ${result.bot}`);
  if (result.error) fail(`page error: ${result.error}`);
  if (!(result.stats.audioSamples > 24000)) fail(`bot audio received: ${result.stats.audioSamples} samples`);
  if (!(result.stats.playbackStarts > 0)) fail("the player never started");
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
