// The status page in Debian's chromium, driven by playwright-core:
//   node browser.mjs BASE_URL EXPECTED.json OUT_DIR
// Checks that every release shows its label with the counts a scrape
// reported, that no label runs script, that the download charts (90 days in
// total, 30 per release) agree bar by bar with mode=json and can be focused
// and hovered, that sorting by each column works and survives the 30-second
// refresh and a reload, that the phone layout does not overflow; writes
// desktop.png, desktop-dark.png and phone.png to OUT_DIR.
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [base, expectedFile, out] = process.argv.slice(2);
const expected = JSON.parse(fs.readFileSync(expectedFile, 'utf8'));
const pageUrl = `${base}/stats?mode=html`;
let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'smoltracker-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  viewport: { width: 1100, height: 900 },
});
try {
  const page = context.pages()[0] || (await context.newPage());
  let dialogs = 0;
  const errors = [];
  page.on('dialog', (d) => { dialogs++; d.dismiss(); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.clock.install();
  await page.goto(pageUrl);

  const rows = () => page.$$eval('#t tbody tr', (trs) => trs.map((tr) => ({
    hash: tr.cells[0].title,
    name: tr.cells[0].textContent,
    labelled: tr.className !== 'u',
    counts: [1, 2, 3].map((i) => Number(tr.cells[i].textContent)),
  })));

  // Every torrent, with its label (or the start of its hash) and scrape counts.
  let got = await rows();
  check(got.length === expected.length, `${got.length} rows for ${expected.length} torrents`);
  for (const e of expected) {
    const r = got.find((x) => x.hash === e.info_hash);
    const name = e.label ?? `${e.info_hash.slice(0, 8)}\u2026`;
    const counts = [e.seeders, e.leechers, e.completed];
    check(r && r.name === name && r.labelled === (e.label !== null)
      && JSON.stringify(r.counts) === JSON.stringify(counts),
    `${JSON.stringify(name)}: shows ${JSON.stringify(r && r.counts)}, scrape ${JSON.stringify(counts)}`);
  }
  const scripts = await page.evaluate(() => document.scripts.length);
  const injected = await page.evaluate(() => document.querySelectorAll('#t img, #t script').length);
  check(scripts === 1 && injected === 0 && dialogs === 0, `no label ran or injected markup (${scripts} script, ${injected} injected, ${dialogs} dialogs)`);
  const totals = await page.$$eval('.cd b', (bs) => bs.map((b) => Number(b.textContent)));
  const sum = (k) => expected.reduce((a, e) => a + e[k], 0);
  check(JSON.stringify(totals) === JSON.stringify([expected.length, sum('seeders'), sum('leechers'), sum('completed')]),
    `totals ${JSON.stringify(totals)}`);

  // The charts agree with mode=json, bar by bar: the date and number in
  // each bar's <title>, no-download days drawn as the muted line, heights
  // ordered as the numbers are, every bar focusable.
  const j = await (await fetch(`${base}/stats?mode=json`)).json();
  const dayOf = (last, n, i) => new Date(Date.parse(`${last}T00:00:00Z`) - (n - 1 - i) * 864e5)
    .toISOString().slice(0, 10);
  const barsOf = (rects) => rects.map((r) => ({
    title: r.querySelector('title').textContent,
    h: Number(r.getAttribute('height')),
    z: r.classList.contains('z'),
    tab: r.getAttribute('tabindex'),
  }));
  const agree = (bars, series, last) => bars.length === series.length
    && bars.every((b, i) => b.title === `${dayOf(last, series.length, i)}: ${series[i]}`
      && b.z === (series[i] === 0) && b.tab === '0')
    && bars.every((b, i) => bars.every((c, k) => (series[i] <= series[k] ? b.h <= c.h : b.h >= c.h)));
  const lastDay = j.history.last_day;
  const total = await page.$$eval('#chart svg.tot rect', barsOf);
  const totalSum = j.history.total.reduce((a, n) => a + n, 0);
  check(total.length === 90 && agree(total, j.history.total, lastDay),
    `total chart: ${total.length} bars agree with history.total (${totalSum} downloads, last day ${lastDay})`);
  check(j.history.total.filter((n) => n > 0).length > 20 && j.history.total[89] === sum('completed'),
    `the state file's days are back, and today's bar is today's downloads (${j.history.total[89]})`);
  const caption = await page.$eval('#chart figcaption', (f) => f.textContent);
  check(caption.includes(`${totalSum} in all`) && caption.includes(lastDay), `caption: ${JSON.stringify(caption)}`);
  const charts = await page.$$eval('#t tbody tr', (trs) => trs.map((tr) => ({
    hash: tr.cells[0].title,
    rects: tr.querySelectorAll('td.c rect').length,
  })));
  let agreeing = 0;
  const named = j.torrents.filter((t) => t.label !== null);
  for (const t of named) {
    const bars = await page.$$eval(`#t tbody tr td[title="${t.info_hash}"] ~ td.c rect`, barsOf);
    if (agree(bars, t.daily, lastDay) && t.daily.length === 30) agreeing++;
    else check(false, `${JSON.stringify(t.label)}: chart ${JSON.stringify(bars.map((b) => b.title))} vs daily ${JSON.stringify(t.daily)}`);
  }
  check(named.length > 0 && agreeing === named.length,
    `${agreeing} of ${named.length} release charts agree with their 30-day series`);
  check(charts.every((c) => c.rects === (expected.find((e) => e.info_hash === c.hash)?.label == null ? 0 : 30)),
    'named releases have a 30-bar chart, unnamed ones none');
  // Keyboard: the first Tab lands on the total chart's first bar, shown in
  // the text colour; hovering a release's bar does the same.
  const fg = await page.evaluate(() => getComputedStyle(document.body).color);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const a = document.activeElement;
    return a && a.tagName === 'rect'
      ? { title: a.querySelector('title').textContent, fill: getComputedStyle(a).fill, total: !!a.closest('svg.tot') }
      : null;
  });
  check(focused && focused.total && focused.title === total[0].title && focused.fill === fg,
    `Tab focuses the first bar (${JSON.stringify(focused)})`);
  const hoverBar = page.locator('#t td.c rect').nth(29);
  await hoverBar.hover();
  const hovered = await hoverBar.evaluate((r) => getComputedStyle(r).fill);
  check(hovered === fg, `hovering a release bar highlights it (${hovered})`);

  // Default order: by name, labelled releases first.
  const byName = (list) => {
    const l = list.filter((r) => r.labelled).map((r) => r.name);
    return JSON.stringify(l) === JSON.stringify([...l].sort((a, b) => a.localeCompare(b)))
      && list.findIndex((r) => !r.labelled) >= l.length;
  };
  check(byName(got), 'default order: labelled releases first, by name');

  // Each numeric column: first click sorts descending, the second ascending.
  const sortedBy = (list, col, dir) => list.every((r, i) => i === 0
    || dir * (r.counts[col - 1] - list[i - 1].counts[col - 1]) >= 0);
  for (const [col, name] of [[1, 'seeders'], [2, 'leechers'], [3, 'downloads']]) {
    await page.click(`#t th:nth-child(${col + 1})`);
    got = await rows();
    check(sortedBy(got, col, -1), `click ${name}: descending`);
    await page.click(`#t th:nth-child(${col + 1})`);
    got = await rows();
    check(sortedBy(got, col, 1), `click ${name} again: ascending`);
  }
  await page.click('#t th:nth-child(2)');
  check(sortedBy(await rows(), 1, -1), 'sorted by seeders, descending');
  const sortAttr = () => page.$eval('#t th:nth-child(2)', (th) => th.getAttribute('aria-sort'));
  check((await sortAttr()) === 'descending' && page.url().endsWith('#s1d'), `sort kept in the URL (${page.url()})`);

  // Refresh after 30 s keeps the sort: give the smallest release 40 new
  // seeders, let the page's clock run 30 s, and it comes to the top.
  const last = got.length ? (await rows()).at(-1) : null;
  const h = Buffer.from(last.hash, 'hex');
  const enc = [...h].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  // Each from an address of its own: one address holds at most 16 peers of a
  // torrent (tracker.max_peers_per_address).
  const { port: trackerPort, hostname } = new URL(base);
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve, reject) => {
      const req = http.get({
        host: hostname, port: trackerPort, localAddress: `127.0.${100 + i}.1`,
        path: `/announce?info_hash=${enc}&port=${30000 + i}&left=0`,
      }, (res) => { res.resume(); res.on('end', resolve); });
      req.on('error', reject);
    });
  }
  await page.clock.runFor(30_500);
  let top = null;
  for (let i = 0; i < 50; i++) {
    top = (await rows())[0];
    if (top.hash === last.hash) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(top.hash === last.hash && top.counts[0] === last.counts[0] + 40,
    `after the 30 s refresh ${JSON.stringify(top.name)} has ${top.counts[0]} seeders and leads`);
  check(sortedBy(await rows(), 1, -1) && (await sortAttr()) === 'descending', 'refresh kept the sort');

  // A reload keeps the sort too (it lives in the URL).
  await page.reload();
  check(sortedBy(await rows(), 1, -1) && (await sortAttr()) === 'descending', 'reload kept the sort');
  await page.click('#t th:nth-child(1)');
  check(byName(await rows()), 'click release: back to names, labelled first');

  fs.mkdirSync(out, { recursive: true });
  await page.locator('main').screenshot({ path: path.join(out, 'desktop.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.locator('main').screenshot({ path: path.join(out, 'desktop-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 390, `phone width: page is ${overflow} px wide, no sideways scrolling`);
  await page.screenshot({ path: path.join(out, 'phone.png'), fullPage: true });
  check(errors.length === 0, `no script errors ${JSON.stringify(errors)}`);
  console.log(`screenshots: ${['desktop.png', 'desktop-dark.png', 'phone.png'].map((f) => path.join(out, f)).join(' ')}`);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} checks failed`);
  process.exit(1);
}
console.log('status page: all checks passed');
