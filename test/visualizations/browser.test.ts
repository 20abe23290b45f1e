// Looked at as a person would: headless Chromium opens the checked-in
// statechart SVGs and a failover timeline page built from the example OTLP
// trace, checks the labels a reviewer looks for are rendered (and fit their
// boxes), and saves screenshots into test-output/visualizations/.
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { AnyStateNode } from 'xstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATED_DIR, MACHINES } from '../../visualizations/statecharts.js';
import { parseOutages, renderFailoverTimeline } from '../../visualizations/timeline.js';
import { chromiumUnavailable, openBrowser, type Browser } from './browser.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const OUT = join(ROOT, 'test-output', 'visualizations');
const EXAMPLES = join(ROOT, 'visualizations', 'examples');

const unavailable = chromiumUnavailable();
if (unavailable !== undefined) console.warn(`test/visualizations/browser: skipped: ${unavailable}`);

interface Box {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  readonly width: number;
  readonly height: number;
}

interface SvgReport {
  readonly width: number;
  readonly height: number;
  readonly texts: { text: string; box: Box }[];
  /** Texts of a node or cluster that spill out of its shape. */
  readonly overflow: string[];
}

// Runs in the page (the project's TypeScript has no DOM types, so it is a string).
const SVG_REPORT = `(() => {
  const box = (el) => { const b = el.getBoundingClientRect(); return { left: b.left, right: b.right, top: b.top, bottom: b.bottom, width: b.width, height: b.height }; };
  const texts = [...document.querySelectorAll('text')].map((t) => ({ text: (t.textContent || '').trim(), box: box(t) }));
  const overflow = [];
  for (const g of document.querySelectorAll('g.node, g.cluster')) {
    const shape = g.querySelector('path, polygon, ellipse');
    if (!shape) continue;
    const s = box(shape);
    for (const t of g.querySelectorAll('text')) {
      const b = box(t);
      if (b.left < s.left - 1 || b.right > s.right + 1 || b.top < s.top - 1 || b.bottom > s.bottom + 1) {
        overflow.push(((g.querySelector('title') || {}).textContent || '?') + ': ' + t.textContent);
      }
    }
  }
  const svg = document.documentElement.getBoundingClientRect();
  return { width: svg.width, height: svg.height, texts, overflow };
})()`;

function stateLabels(node: AnyStateNode): string[] {
  const own = node.parent === undefined ? `${node.key} (machine)` : node.key;
  return [own, ...Object.values(node.states).flatMap(stateLabels)];
}

function visible(report: SvgReport, label: string): boolean {
  return report.texts.some((t) => t.text === label && t.box.width > 0 && t.box.height > 0);
}

describe.skipIf(unavailable !== undefined)('in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    await mkdir(OUT, { recursive: true });
    browser = await openBrowser();
  });

  afterAll(async () => {
    await browser?.close();
  });

  describe.each(MACHINES.map((m) => [m.machine.id, m] as const))('statechart %s.svg', (id, { machine }) => {
    it('renders every state name and its transitions legibly, and is saved as a screenshot', async () => {
      const page = await browser.context.newPage();
      try {
        await page.goto(pathToFileURL(join(GENERATED_DIR, `${id}.svg`)).href);
        const report = await page.evaluate<SvgReport>(SVG_REPORT);
        expect(report.width).toBeGreaterThan(300);
        expect(report.height).toBeGreaterThan(300);
        const missing = stateLabels(machine.root).filter((label) => !visible(report, label));
        expect(missing, 'state names not rendered').toEqual([]);
        expect(report.overflow, 'labels spilling out of their state').toEqual([]);
        // Events as a reviewer reads them on the edges.
        const events = [...new Set(Object.values(machine.root.states).flatMap(allEvents))].filter((e) => !e.startsWith('xstate.'));
        expect(events.length).toBeGreaterThan(0);
        for (const event of events) {
          expect(report.texts.some((t) => t.text.includes(event) && t.box.width > 0), `event ${event} rendered`).toBe(true);
        }
        await page.setViewportSize({ width: Math.ceil(report.width), height: Math.ceil(report.height) });
        const shot = join(OUT, `${id}.png`);
        await page.screenshot({ path: shot, timeout: 15_000 });
        expect((await stat(shot)).size).toBeGreaterThan(10_000);
      } finally {
        await page.close();
      }
    });
  });

  it('the shard chart shows the failover path: leader → steppingDown on the renew deadline, delays and guards; the gateway chart its shards', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(pathToFileURL(join(GENERATED_DIR, 'gateway.svg')).href);
      const root = await page.evaluate<SvgReport>(SVG_REPORT);
      for (const label of ['serving', 'stopping', 'startShards', '[allShardsStopped]', 'holdMembership']) {
        expect(root.texts.some((t) => t.text.includes(label) && t.box.width > 0), label).toBe(true);
      }
      await page.goto(pathToFileURL(join(GENERATED_DIR, 'shard.svg')).href);
      const report = await page.evaluate<SvgReport>(SVG_REPORT);
      for (const label of ['LEASE.RENEW_DEADLINE_EXCEEDED', 'LEASE.LOST', 'after standbyRetryPeriod', 'after releaseTimeout', '[leaseHeld]', '‖ parallel', 'invoke', 'tryAcquireLease', 'takingOver', 'fence', '[handOverDue]']) {
        expect(report.texts.some((t) => t.text.includes(label) && t.box.width > 0), label).toBe(true);
      }
    } finally {
      await page.close();
    }
  });

  it('the failover timeline shows the spans nested, the events, and the outage bands; saved as a screenshot', async () => {
    const otlp = await readFile(join(EXAMPLES, 'failover-otlp.json'));
    const outages = parseOutages(await readFile(join(EXAMPLES, 'failover-outages.json'), 'utf8'));
    const htmlPath = join(OUT, 'failover-timeline.html');
    await writeFile(htmlPath, renderFailoverTimeline({ otlp, outages }));
    const page = await browser.context.newPage();
    try {
      await page.goto(pathToFileURL(htmlPath).href);
      await expect.poll(() => page.locator('h1').textContent()).toBe('Failover timeline — gateway.failover');
      const view = page.locator('figure.trace-view');
      const names = ['gateway.failover', 'lease.acquire', 'routeTables.repoint', 'routeTable rtb-0a1b2c3d4e5f60001', 'routeTable rtb-0a1b2c3d4e5f60002', 'vtepConfig.write'];
      const nameBoxes: Record<string, Box> = {};
      for (const name of names) {
        const text = view.locator(`g.span[data-span-name="${name}"] text.span-name`);
        await expect.poll(() => text.textContent()).toBe(name);
        const box = await text.boundingBox();
        expect(box, name).not.toBeNull();
        const nameBox = { left: box!.x, right: box!.x + box!.width, top: box!.y, bottom: box!.y + box!.height, width: box!.width, height: box!.height };
        nameBoxes[name] = nameBox;
        const bar = await view.locator(`g.span[data-span-name="${name}"] rect.span-bar`).boundingBox();
        expect(bar!.width, `${name} bar`).toBeGreaterThan(1);
        // The name fits in the label column, left of the bars' area.
        expect(nameBox.right, `${name} label width`).toBeLessThan(bar!.x + 1);
      }
      // Nesting: children indented under their parent, rows in start order.
      expect(nameBoxes['lease.acquire']!.left).toBeGreaterThan(nameBoxes['gateway.failover']!.left + 8);
      expect(nameBoxes['routeTable rtb-0a1b2c3d4e5f60001']!.left).toBeGreaterThan(nameBoxes['routeTables.repoint']!.left + 8);
      const tops = names.map((n) => nameBoxes[n]!.top);
      expect([...tops].sort((a, b) => a - b)).toEqual(tops);
      // Events: markers and labels, labels not on top of each other.
      const labels: Box[] = [];
      for (const event of ['lease.expiry-seen', 'ec2.throttled', 'leader.ready']) {
        const group = view.locator(`g.event[data-event-name="${event}"]`);
        expect(await group.locator('path.event-marker').boundingBox(), event).not.toBeNull();
        const b = (await group.locator('text.event-label').boundingBox())!;
        expect(await group.locator('text.event-label').textContent()).toContain(event);
        labels.push({ left: b.x, right: b.x + b.width, top: b.y, bottom: b.y + b.height, width: b.width, height: b.height });
      }
      for (let i = 0; i < labels.length; i++) {
        for (let j = i + 1; j < labels.length; j++) {
          const a = labels[i]!;
          const b = labels[j]!;
          const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
          expect(overlap, `event labels ${i} and ${j} overlap`).toBe(false);
        }
      }
      // Outage bands across the rows, with their labels.
      const bands = view.locator('rect.outage-band');
      expect(await bands.count()).toBe(2);
      const band = (await bands.first().boundingBox())!;
      expect(band.width).toBeGreaterThan(50);
      expect(band.height).toBeGreaterThan(6 * 20);
      await expect.poll(() => view.locator('g.outage text').first().textContent()).toContain('traffic outage vpc-pod → pod-1 — 3.306 s');
      await expect.poll(() => page.locator('figure.overview rect.outage-band').count()).toBe(2);
      const shot = join(OUT, 'failover-timeline.png');
      await page.screenshot({ path: shot, fullPage: true, timeout: 15_000 });
      expect((await stat(shot)).size).toBeGreaterThan(10_000);
    } finally {
      await page.close();
    }
  });
});

function allEvents(node: AnyStateNode): string[] {
  return [...node.ownEvents.map(String), ...Object.values(node.states).flatMap(allEvents)];
}
