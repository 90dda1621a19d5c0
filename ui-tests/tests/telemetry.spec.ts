/**
 * Live telemetry in a real JupyterLab with a real kernel: the inline monitor,
 * the sidebar chart, pause, CSV export and the saved output without a kernel.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';
import * as fs from 'fs';
import { workspaceSaved } from './workspace';

const INLINE = '.jp-OutputArea-output .yl-TelemetryChart';
const SIDEBAR = '#yolo-lab-panel .yl-TelemetrySection .yl-TelemetryChart';

/** A trace's line on screen: segments of [x, y] pixel points. */
type Line = Array<Array<[number, number]>>;

/**
 * The lines on screen, one per trace in trace order, read from the SVG paths
 * whoever drew them (plotly, or the chart's line-only update).
 */
async function drawnLines(chart: Locator): Promise<Line[]> {
  return chart.locator('.yl-ChartPlot').evaluate(node => {
    const lines: Array<Array<Array<[number, number]>>> = [];
    for (let i = 0; ; i++) {
      const trace = node.querySelector(`.traceyl${i}`);
      if (!trace) {
        return lines;
      }
      lines.push(
        Array.from(trace.querySelectorAll('path.js-line')).map(path =>
          (path.getAttribute('d') ?? '')
            .split(/[ML]/)
            .filter(Boolean)
            .map(point => point.split(',').map(Number) as [number, number])
        )
      );
    }
  });
}

/** Points drawn in the first trace. */
async function plottedPoints(chart: Locator): Promise<number> {
  const [first] = await drawnLines(chart);
  return (first ?? []).reduce((n, segment) => n + segment.length, 0);
}

/** Breaks in the first trace's line (gaps drawn). */
async function breaks(chart: Locator): Promise<number> {
  const [first] = await drawnLines(chart);
  return Math.max(0, (first?.length ?? 0) - 1);
}

/** The y of a segment at x, between its points; null outside it. */
function yAt(segment: Array<[number, number]>, x: number): number | null {
  for (let k = 1; k < segment.length; k++) {
    const [x0, y0] = segment[k - 1];
    const [x1, y1] = segment[k];
    if (x0 <= x && x <= x1) {
      return x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return null;
}

/** The rows of the chart's CSV export, header first. */
async function exportCSV(page: Page, chart: Locator): Promise<string[]> {
  const downloading = page.waitForEvent('download');
  await chart.getByRole('button', { name: 'Export CSV' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^yolo-lab-telemetry-.*\.csv$/);
  return fs
    .readFileSync((await download.path())!, 'utf-8')
    .trim()
    .split('\n');
}

/**
 * Record from now on how the telemetry charts draw: each draw's performance
 * measure says 'plotly' (a redraw) or 'lines' (the line-only update).
 */
async function recordDraws(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as any;
    w.__ylDraws = [] as string[];
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        if (e.name === 'yolo-lab:chart-update') {
          w.__ylDraws.push((e as PerformanceMeasure).detail?.draw);
        }
      }
    }).observe({ entryTypes: ['measure'] });
  });
}

/** The draws recorded so far, oldest first. */
async function draws(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as any).__ylDraws as string[]);
}

const count = (items: string[], item: string): number =>
  items.filter(i => i === item).length;

async function expectGrowing(chart: Locator): Promise<number> {
  const before = await plottedPoints(chart);
  await expect
    .poll(() => plottedPoints(chart), { timeout: 30000 })
    .toBeGreaterThan(before);
  return plottedPoints(chart);
}

/** Samples in the first cell's monitor output, as the notebook model holds them. */
async function savedSamples(page: Page): Promise<number> {
  return page.evaluate(mime => {
    const app = (window as any).jupyterapp;
    const cell = app.shell.currentWidget.content.model.cells.get(0);
    return cell.outputs.get(0).data[mime].samples.length as number;
  }, 'application/vnd.yolo-lab.telemetry+json');
}

async function startMonitor(page: Page): Promise<Locator> {
  await page.notebook.createNew(undefined, { kernel: 'python3' });
  await page.notebook.setCell(
    0,
    'code',
    'import yolo_lab\nmonitor = yolo_lab.monitor(window_s=120, interval_s=0.2)'
  );
  await page.notebook.runCell(0);
  const chart = page.locator(INLINE).first();
  await expect(chart).toBeVisible({ timeout: 60000 });
  await expect(chart).toHaveAttribute('data-source', 'psutil');
  return chart;
}

test.describe('telemetry', () => {
  test('the inline monitor streams, pauses and exports CSV', async ({
    page
  }) => {
    const chart = await startMonitor(page);
    const saved = await savedSamples(page);
    await expectGrowing(chart);
    await expectGrowing(chart);
    // The live points came through the telemetry stream: the output's own
    // data (what the notebook file keeps) was not rewritten for them.
    expect(await savedSamples(page)).toBe(saved);
    expect(await plottedPoints(chart)).toBeGreaterThan(saved + 2);

    await chart.getByRole('button', { name: 'Pause' }).click();
    await expect(chart).toHaveAttribute('data-paused', 'true');
    const frozen = await plottedPoints(chart);
    // Samples keep arriving while the chart holds still: the CSV export,
    // made from what is kept, grows.
    const kept = (await exportCSV(page, chart)).length;
    await expect
      .poll(async () => (await exportCSV(page, chart)).length, {
        timeout: 30000
      })
      .toBeGreaterThan(kept);
    expect(await plottedPoints(chart)).toBe(frozen);
    await chart.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => plottedPoints(chart)).toBeGreaterThan(frozen);

    const [header, ...rows] = await exportCSV(page, chart);
    expect(header).toBe(
      'time,epoch_s,CPU %,RAM GiB,kernel CPU % (100 = 1 core)'
    );
    expect(rows.length).toBeGreaterThan(3);
    for (const row of rows) {
      const cells = row.split(',');
      expect(cells[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(Number(cells[1])).toBeGreaterThan(1.7e9);
      expect(Number(cells[3])).toBeGreaterThan(0);
    }
  });

  test('a streamed update that moves the window less than a pixel draws the lines plotly would', async ({
    page,
    tmpPath
  }) => {
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    await recordDraws(page);
    // The kernel plays a sampler: 1000 s of smooth samples at 10 Hz with a
    // 5-s silence (a break); once the chart has drawn them (the test writes
    // the file "drawn"), 30 more at 10 Hz (under two pixels of scrolling),
    // then one 10 ms later that drops the CPU line to 2 % (below the sine's
    // lowest, inside the axis). Streamed while the first draw is still busy,
    // the updates would arrive in a burst and coalesce into a few draws.
    // One statement a line: the editor's auto-indent would change blocks.
    const code = [
      'import os, time, math',
      'from IPython.display import display, update_display',
      "MIME = 'application/vnd.yolo-lab.telemetry+json'",
      'def s(t): return {"t": t, "cpu_pct": 50 + 40 * math.sin(t / 30), "ram_used_bytes": 2e9 + 1e9 * math.cos(t / 50), "ram_total_bytes": 8e9, "proc_cpu_pct": 30 + 20 * math.sin(t / 7), "proc_rss_bytes": 1.5e8, "gpus": []}',
      '',
      't0 = time.time() - 1000',
      'ts = [t0 + i * 0.1 for i in range(10000) if not 4000 <= i < 4050]',
      'data = {"v": 1, "sampler_id": "lines", "source": "psutil", "interval_s": 0.1, "window_s": 1000, "live": True, "samples": [s(t) for t in ts]}',
      'h = display({MIME: data}, raw=True, display_id=True)',
      'def show(sample): update_display({MIME: dict(data, samples=[sample])}, raw=True, display_id=h.display_id)',
      '',
      'while not os.path.exists("drawn"): time.sleep(0.05)',
      't = ts[-1]',
      'for i in range(30): time.sleep(0.1); t += 0.1; show(s(t))',
      'time.sleep(1)',
      'show(dict(s(t + 0.01), cpu_pct=2))'
    ].join('\n');
    await page.notebook.setCell(0, 'code', code);
    await page.notebook.runCell(0, { wait: false });
    await expect
      .poll(async () => count(await draws(page), 'plotly'), { timeout: 60000 })
      .toBeGreaterThan(0);
    await page.contents.uploadContent('', 'text', `${tmpPath}/drawn`);
    await page.notebook.waitForRun(0);
    const chart = page.locator(INLINE).first();
    // The last update, the drop to 2 %, is on screen...
    await expect
      .poll(async () => {
        const [cpu] = await drawnLines(chart);
        const segment = cpu?.at(-1) ?? [];
        return segment.length > 1 ? segment.at(-1)![1] - segment.at(-2)![1] : 0;
      })
      .toBeGreaterThan(5);
    // ... drawn by the line-only path, as most updates before it.
    await expect.poll(async () => (await draws(page)).at(-1)).toBe('lines');
    expect(count(await draws(page), 'lines')).toBeGreaterThan(10);
    const lines = await drawnLines(chart);
    const newest = lines[0].at(-1)!.at(-1)!;

    // Export PNG has plotly redraw everything first.
    const plotDraws = count(await draws(page), 'plotly');
    const downloading = page.waitForEvent('download');
    await chart.getByRole('button', { name: 'Export PNG' }).click();
    await downloading;
    await expect
      .poll(async () => count(await draws(page), 'plotly'))
      .toBe(plotDraws + 1);
    expect((await draws(page)).at(-1)).toBe('plotly');
    const plotted = await drawnLines(chart);

    // The line-only update keeps the axes of plotly's last redraw: the
    // newest point sits less than a pixel right of plotly's right edge.
    const lag = newest[0] - plotted[0].at(-1)!.at(-1)![0];
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(1);
    // Shifted back by that lag, the same traces with the same break on the
    // same axes: every point plotly draws lies on the line drawn before, to
    // within a pixel (decimation buckets moved by the lag), but in the last
    // pixel column (the drop, checked below).
    expect(plotted.length).toBe(3);
    expect(lines.length).toBe(plotted.length);
    for (let i = 0; i < plotted.length; i++) {
      expect(lines[i].length).toBe(2);
      expect(plotted[i].length).toBe(lines[i].length);
      for (let k = 0; k < plotted[i].length; k++) {
        const drawn = lines[i][k];
        const ref = plotted[i][k];
        expect(Math.abs(drawn.length - ref.length)).toBeLessThan(
          0.02 * ref.length + 3
        );
        const end = ref.at(-1)![0] - 1;
        let compared = 0;
        for (const [x, y] of ref.filter(([x]) => x < end)) {
          const here = yAt(drawn, x + lag);
          if (here !== null) {
            expect(Math.abs(here - y)).toBeLessThan(1);
            compared++;
          }
        }
        expect(compared).toBeGreaterThan(0.9 * ref.length);
      }
    }
    // The newest point, 2 % CPU, is the last one of both, well below the
    // one before it (screen y grows downwards).
    expect(Math.abs(plotted[0].at(-1)!.at(-1)![1] - newest[1])).toBeLessThan(1);
    const previous = lines[0].at(-1)!.at(-2)!;
    expect(newest[1] - previous[1]).toBeGreaterThan(5);
  });

  test.describe('kernel restart', () => {
    // See panel.spec.ts: Galata's kernel tracker breaks kernel restarts.
    test.use({ kernels: null });

    test('the sidebar chart follows the kernel and shows the gap of a restart', async ({
      page
    }) => {
      await page.notebook.createNew(undefined, { kernel: 'python3' });
      await page
        .locator('.jp-NotebookPanel-toolbar')
        .getByRole('button', { name: /Check GPU environment/ })
        .click();
      const chart = page.locator(SIDEBAR);
      await expect(chart).toHaveAttribute('data-source', 'psutil', {
        timeout: 60000
      });
      await expectGrowing(chart);
      expect(await breaks(chart)).toBe(0);

      await page.menu.clickMenuItem('Kernel>Restart Kernel…');
      await page
        .getByRole('button', { name: 'Confirm Kernel Restart' })
        .click();
      // The restarted kernel has a new sampler: a break, not a line across.
      await expect
        .poll(() => breaks(chart), { timeout: 60000 })
        .toBeGreaterThan(0);
      await expectGrowing(chart);
    });
  });

  test('a saved monitor output renders after a reload without its kernel', async ({
    page
  }) => {
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    // A monitor that records three seconds of telemetry, then stops.
    await page.notebook.setCell(
      0,
      'code',
      [
        'import time, yolo_lab',
        'monitor = yolo_lab.monitor(window_s=60, interval_s=0.2)',
        'time.sleep(3)',
        'monitor.stop()'
      ].join('\n')
    );
    await page.notebook.runCell(0);
    const output = page.locator('.yl-TelemetryOutput').first();
    await expect(output).toHaveAttribute('data-live', 'false');
    await expect
      .poll(() => plottedPoints(output.locator('.yl-TelemetryChart')))
      .toBeGreaterThan(3);
    await page.notebook.save();
    const path = await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      return app.shell.currentWidget.context.path as string;
    });
    // Galata's reload waits for the Launcher to be the current tab: wait for
    // the save whose layout no longer holds the closed notebook, or the reload
    // may restore it.
    const forgotten = workspaceSaved(page, data => {
      const main = data['layout-restorer:data']?.main;
      return !!main && !JSON.stringify(main).includes(path);
    });
    await page.notebook.close();
    await forgotten;
    await page.kernel.shutdownAll();

    // Reopened without any kernel: the chart comes from the saved output alone.
    await page.reload();
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    // Opened through the document manager, as a double-click does: galata's
    // file-browser helper waits for a tab state that the listing's running
    // mark can keep from matching, and this test is about the output.
    await page.evaluate(async notebook => {
      await (window as any).jupyterapp.commands.execute('docmanager:open', {
        path: notebook
      });
    }, path);
    const saved = page.locator(INLINE).first();
    await expect(saved).toBeVisible({ timeout: 60000 });
    await expect(page.locator('.yl-TelemetryOutput').first()).toHaveAttribute(
      'data-live',
      'false'
    );
    await expect.poll(() => plottedPoints(saved)).toBeGreaterThan(3);
    await expect(saved.locator('.yl-ChartStatus')).toContainText(
      'saved output'
    );
  });
});
