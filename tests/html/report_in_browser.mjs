// Opens a heapdiff --html report in headless Chromium and checks what a person would do with
// it: the page loads without console errors or network requests, the flame graph has a node
// for the top site of the text/JSON report, hovering it shows its numbers and file:line,
// clicking zooms into it, the search box highlights, and the table lists the same sites.
//
//   node report_in_browser.mjs --chromium PATH --heapdiff BIN --out DIR
//        [--screenshot PNG] [--max-load-ms N] -- SNAPSHOT...
import { execFileSync } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Browser } from "./cdp.mjs";

function parseArgs(argv) {
  const args = { maxLoadMs: 20000, snapshots: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--") { args.snapshots = argv.slice(i + 1); break; }
    const value = argv[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    if (a === "--chromium") args.chromium = value;
    else if (a === "--heapdiff") args.heapdiff = value;
    else if (a === "--out") args.out = value;
    else if (a === "--screenshot") args.screenshot = value;
    else if (a === "--max-load-ms") args.maxLoadMs = Number(value);
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.chromium || !args.heapdiff || !args.out || args.snapshots.length < 2) {
    throw new Error("usage: --chromium PATH --heapdiff BIN --out DIR [--screenshot PNG] -- SNAPSHOT...");
  }
  return args;
}

const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
  console.log(`${condition ? "ok  " : "FAIL"} ${message}`);
}

function heapdiff(bin, args) {
  try {
    return execFileSync(bin, args, { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "inherit"] });
  } catch (e) {
    if (e.status === 1) return e.stdout;  // growth above --fail-on-growth is still a report
    throw e;
  }
}

function basename(path) { return path.slice(path.lastIndexOf("/") + 1); }

async function main() {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const html = resolve(join(args.out, "report.html"));
  const report = JSON.parse(heapdiff(args.heapdiff, ["--json", "--html", html, ...args.snapshots]));
  check(report.entries.length > 0, "the JSON report lists at least one entry");
  const top = report.entries[0];
  // The flame graph names a row by its short function name, or module+offset unsymbolized.
  const topName = top.site.function ? top.site.short_function : `${basename(top.site.module)}+${top.site.offset}`;
  const topLocation = top.site.file ? `${top.site.file}:${top.site.line}` : "";
  const bytes = statSync(html).size;
  console.log(`report ${html}: ${bytes} bytes, top site ${topName} ${topLocation}`);

  const browser = await Browser.launch(args.chromium);
  try {
    const page = await browser.newPage();
    await page.send("Runtime.enable");
    await page.send("Log.enable");
    await page.send("Network.enable");
    await page.send("Page.enable");
    await page.send("Emulation.setDeviceMetricsOverride", {
      width: 1280, height: 900, deviceScaleFactor: 1, mobile: false,
    });

    const url = pathToFileURL(html).href;
    const started = Date.now();
    await page.send("Page.navigate", { url });
    await page.waitFor("document.readyState === 'complete' && !!window.heapdiffReport && " +
                       "document.querySelectorAll('#chart g.frame').length > 0",
                       Math.max(args.maxLoadMs, 60000), "the flame graph");
    const loadMs = Date.now() - started;
    const frames = await page.evaluate("document.querySelectorAll('#chart g.frame').length");
    console.log(`loaded and drawn in ${loadMs} ms: ${frames} flame-graph frames drawn`);
    check(loadMs <= args.maxLoadMs, `the page loads and draws within ${args.maxLoadMs} ms (took ${loadMs} ms)`);

    // Top site: the widest drawn frame with that name that is a site.
    const found = await page.evaluate(`(() => {
      const name = ${JSON.stringify(topName)};
      let best = null;
      for (const g of document.querySelectorAll('#chart g.frame')) {
        if (g.getAttribute('name') !== name || !g.__data__.data.s) continue;
        if (!best || g.__data__.value > best.__data__.value) best = g;
      }
      if (!best) return null;
      best.scrollIntoView({ block: 'center' });
      best.setAttribute('data-test-target', '1');
      const r = best.querySelector('rect').getBoundingClientRect();
      return { x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2, width: r.width };
    })()`);
    check(found !== null, `the flame graph has a node for the top site ${topName}`);
    if (found) {
      // Boxes grow to their width in a transition: aim once it is over.
      Object.assign(found, await page.waitFor(`(() => {
        const r = document.querySelector('#chart g.frame[data-test-target] rect').getBoundingClientRect();
        return r.width > 0 && { x: r.left + Math.min(r.width / 2, 40), y: r.top + r.height / 2, width: r.width };
      })()`, 5000, "the node's box"));
    }

    if (found) {
      await page.mouse("mouseMoved", found.x, found.y);
      const tip = await page.waitFor(
        "(() => { const t = document.getElementById('tooltip');" +
        " return t.style.display === 'block' && t.textContent; })()", 5000, "the tooltip")
        .catch(() => "");
      console.log(`tooltip: ${tip}`);
      check(tip.includes(topName) || tip.includes(top.site.function), "hovering the node shows its function");
      check(!topLocation || tip.includes(topLocation), `the tooltip shows the site's file:line ${topLocation}`);
      check(/Δ live [+-]?[0-9.]+ (B|KiB|MiB|GiB)/.test(tip) && /objects/.test(tip),
            "the tooltip shows the change in bytes and objects");

      const chartWidth = await page.evaluate("window.heapdiffReport.chart.width()");
      await page.mouse("mousePressed", found.x, found.y);
      await page.mouse("mouseReleased", found.x, found.y);
      const zoomed = await page.waitFor(`(() => {
        const g = document.querySelector('#chart g.frame[data-test-target]');
        const w = g && g.querySelector('rect').getBoundingClientRect().width;
        return w >= ${chartWidth} * 0.98 ? w : 0;
      })()`, 5000, "the zoom").catch(() => 0);
      check(zoomed > 0, `clicking the node zooms it to the full width (${found.width.toFixed(1)} px -> ${zoomed.toFixed(1)} px of ${chartWidth})`);
      await page.evaluate("document.getElementById('reset').click()");
      await page.mouse("mouseMoved", 1, 1);  // leave the graph: the tooltip hides
    }

    const highlighted = await page.evaluate(`(() => {
      const s = document.getElementById('search');
      s.value = ${JSON.stringify(topName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))};
      s.dispatchEvent(new Event('input'));
      return [...document.querySelectorAll('#chart g.frame rect')]
        .filter((r) => r.getAttribute('fill') === '#e600e6').length;
    })()`);
    check(highlighted > 0, `the search box highlights the top site (${highlighted} frames)`);
    await page.evaluate("(() => { const s = document.getElementById('search'); s.value = '';" +
                        " s.dispatchEvent(new Event('input')); })()");

    const table = await page.evaluate(
      "[...document.querySelectorAll('table.entries tr.entry td.site summary')].map((s) => s.textContent)");
    check(table.length === report.entries.length,
          `the table lists the report's ${report.entries.length} entries (found ${table.length})`);
    check(report.entries.every((e, i) => table[i] && table[i].includes(
            e.site.function ? e.site.short_function : e.key)),
          "the table names the same sites, in the same order, as the JSON report");
    if (report.mode === "trend") {
      const trends = await page.evaluate(
        "[...document.querySelectorAll('table.entries tr.entry')].map((tr) => " +
        "[tr.querySelector('.trend').textContent, !!tr.querySelector('svg.spark polyline')])");
      check(trends.length === report.entries.length &&
            trends.every(([label, chart], i) => label === report.entries[i].trend && chart),
            "in trend mode every entry has its label and a chart of live bytes per snapshot");
    }

    if ((report.resources || []).length > 0) {
      const rows = await page.evaluate(
        "[...document.querySelectorAll('#resources tr.resource-entry')].map((tr) => tr.textContent)");
      check(rows.length === report.resources.length &&
            report.resources.every((e, i) => rows[i].includes(
              e.site.function ? e.site.short_function : e.key) &&
              rows[i].includes((e.delta_count > 0 ? "+" : "") + e.delta_count)),
            `the resources section lists the report's ${report.resources.length} creating sites with their counts`);
    }

    if (args.screenshot) {
      await page.evaluate("window.scrollTo(0, 0)");
      const height = await page.evaluate(
        "Math.min(1200, Math.ceil((document.querySelector('#resources') || document.querySelector('#top'))" +
        ".getBoundingClientRect().bottom + 16))");
      const shot = await page.send("Page.captureScreenshot", {
        format: "png", captureBeyondViewport: true,
        clip: { x: 0, y: 0, width: 1280, height, scale: 1 },
      });
      writeFileSync(args.screenshot, Buffer.from(shot.data, "base64"));
      console.log(`screenshot ${args.screenshot}`);
    }

    // Errors and requests are checked last so that hover, zoom and search are covered too.
    const errors = page.events.filter((e) =>
      e.method === "Runtime.exceptionThrown" ||
      (e.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(e.params.type)) ||
      (e.method === "Log.entryAdded" && e.params.entry.level === "error"));
    for (const e of errors) console.log(`console: ${JSON.stringify(e.params).slice(0, 400)}`);
    check(errors.length === 0, "no console errors or uncaught exceptions");
    const requests = page.events
      .filter((e) => e.method === "Network.requestWillBeSent")
      .map((e) => e.params.request.url)
      .filter((u) => u !== url && !u.startsWith("data:"));
    check(requests.length === 0, `the page requests nothing beyond itself${requests.length ? ": " + requests.join(", ") : ""}`);
  } finally {
    await browser.close();
  }
  if (failures.length > 0) {
    console.log(`${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log("all checks passed");
}

main().catch((e) => {
  console.error(`report_in_browser: ${e.stack || e}`);
  process.exit(2);
});
