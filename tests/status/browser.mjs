// The status page in Debian's chromium, driven by playwright-core:
//   node browser.mjs BASE_URL EXPECTED.json OUT_DIR
// Checks that every release shows its label with the counts a scrape
// reported, that no label runs script, that sorting by each column works and
// survives the 30-second refresh and a reload, that the phone layout does not
// overflow; writes desktop.png and phone.png to OUT_DIR.
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
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  check(overflow <= 390, `phone width: page is ${overflow} px wide, no sideways scrolling`);
  await page.screenshot({ path: path.join(out, 'phone.png'), fullPage: true });
  check(errors.length === 0, `no script errors ${JSON.stringify(errors)}`);
  console.log(`screenshots: ${path.join(out, 'desktop.png')} ${path.join(out, 'phone.png')}`);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
if (failures) {
  console.log(`${failures} checks failed`);
  process.exit(1);
}
console.log('status page: all checks passed');
