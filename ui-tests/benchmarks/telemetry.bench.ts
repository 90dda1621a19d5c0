/**
 * Browser benchmarks of yolo-lab (figures printed, nothing asserted but
 * that the run happened): `npm run bench` in ui-tests/.
 *
 * - chart update: main-thread time per streamed update of an inline telemetry
 *   chart holding 4 traces of 10,000 points, fed 10 updates a second, and the
 *   JS heap over the run (BENCH_SECONDS, default 60; 600 for the 10-minute run).
 * - page load: JavaScript fetched at JupyterLab start, all of it and yolo-lab's.
 */
import { expect, galata, test } from '@jupyterlab/galata';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  );
}

test.describe('benchmarks', () => {
  test.use({ autoGoto: false });

  test('page load: JavaScript fetched at start', async ({ page }) => {
    const sizes = new Map<string, number>();
    page.on('response', async response => {
      const { pathname } = new URL(response.url());
      if (pathname.endsWith('.js')) {
        const body = await response.body().catch(() => Buffer.alloc(0));
        sizes.set(pathname, body.length);
      }
    });
    await page.goto();
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    await page.waitForLoadState('networkidle');
    let total = 0;
    let ours = 0;
    for (const [path, size] of sizes) {
      total += size;
      if (path.includes('/lab/extensions/yolo-lab/')) {
        ours += size;
      }
    }
    const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
    console.log(
      `page load: ${kb(total)} of JavaScript with yolo-lab, ${kb(total - ours)} without it ` +
        `(yolo-lab's own: ${kb(ours)}, +${((100 * ours) / (total - ours)).toFixed(2)}%)`
    );
    expect(ours).toBeGreaterThan(0);
  });

  test.describe('chart', () => {
    // Four series on the CPU view: machine CPU and RAM, kernel CPU and RAM.
    test.use({
      mockSettings: {
        ...galata.DEFAULT_SETTINGS,
        'yolo-lab:telemetry': {
          telemetryMetrics: ['cpu', 'ram', 'proc_cpu', 'proc_rss']
        }
      }
    });
    test('chart update: 4 traces x 10,000 points at 10 updates/s', async ({
      page
    }) => {
      test.setTimeout((SECONDS + 180) * 1000);
      await page.goto();
      await page.notebook.createNew(undefined, { kernel: 'python3' });
      await page.evaluate(() => {
        const w = window as any;
        w.__ylUpdates = [] as Array<[number, string]>;
        // Each draw's measure: its main-thread time, and whether plotly
        // redrew or only the lines were.
        new PerformanceObserver(list => {
          for (const e of list.getEntries()) {
            if (e.name === 'yolo-lab:chart-update') {
              w.__ylUpdates.push([
                e.duration,
                (e as PerformanceMeasure).detail?.draw
              ]);
            }
          }
        }).observe({ entryTypes: ['measure'] });
      });
      // The kernel plays a sampler at 10 Hz: a 10,000-sample window first, then
      // one new sample per update (the renderer keeps the window).
      // One statement a line: the editor's auto-indent would change blocks.
      const code = [
        'import time, random',
        'from IPython.display import display, update_display',
        "MIME = 'application/vnd.yolo-lab.telemetry+json'",
        'def s(t): return {"t": t, "cpu_pct": random.uniform(0, 100), "ram_used_bytes": random.uniform(1e9, 2e9), "ram_total_bytes": 8e9, "proc_cpu_pct": random.uniform(0, 200), "proc_rss_bytes": random.uniform(1e8, 2e8), "gpus": []}',
        '',
        't0 = time.time() - 1000',
        'data = {"v": 1, "sampler_id": "bench", "source": "psutil", "interval_s": 0.1, "window_s": 1000, "live": True, "samples": [s(t0 + i * 0.1) for i in range(10000)]}',
        'h = display({MIME: data}, raw=True, display_id=True)',
        `end = time.time() + ${SECONDS}`,
        'while time.time() < end: time.sleep(0.1); update_display({MIME: dict(data, samples=[s(time.time())])}, raw=True, display_id=h.display_id)'
      ].join('\n');
      await page.notebook.setCell(0, 'code', code);
      void page.notebook.runCell(0);
      await expect(
        page.locator('.yl-TelemetryOutput .yl-TelemetryChart')
      ).toBeVisible({
        timeout: 60000
      });
      // Main-thread time of everything (JupyterLab's output handling, style,
      // layout and paint included), from Chromium's own task accounting, in
      // 5-second phases: every fourth with the chart paused (samples still
      // arrive), so the chart's own share shows side by side.
      const cdp = await page.context().newCDPSession(page.context().pages()[0]);
      await cdp.send('Performance.enable');
      const taskSeconds = async (): Promise<number> => {
        const { metrics } = await cdp.send('Performance.getMetrics');
        return metrics.find(m => m.name === 'TaskDuration')?.value ?? NaN;
      };
      // The heap after a full garbage collection (between phases, outside
      // the time measured): what is kept, not what awaits collection.
      const heap = async (): Promise<number> => {
        await cdp.send('HeapProfiler.collectGarbage');
        const { usedSize } = await cdp.send('Runtime.getHeapUsage');
        return usedSize;
      };
      const chart = page.locator('.yl-TelemetryOutput .yl-TelemetryChart');
      const busyPerS = { drawing: [] as number[], paused: [] as number[] };
      const heaps: Array<[number, number]> = [];
      const t0 = Date.now();
      for (let phase = 0; Date.now() - t0 < SECONDS * 1000; phase++) {
        const paused = phase % 4 === 3;
        if (paused) {
          await chart.getByRole('button', { name: 'Pause' }).click();
        }
        const [w0, b0] = [Date.now(), await taskSeconds()];
        await page.waitForTimeout(5000);
        const [w1, b1] = [Date.now(), await taskSeconds()];
        busyPerS[paused ? 'paused' : 'drawing'].push(
          ((b1 - b0) * 1000) / ((w1 - w0) / 1000)
        );
        if (paused) {
          await chart.getByRole('button', { name: 'Resume' }).click();
        }
        heaps.push([(Date.now() - t0) / 1000, await heap()]);
        // The collector's own follow-up work stays out of the next phase.
        await page.waitForTimeout(500);
      }
      const updates: Array<[number, string]> = await page.evaluate(
        () => (window as any).__ylUpdates
      );
      const durations = updates.map(([ms]) => ms);
      const drawn = (kind: string): number =>
        updates.filter(([, draw]) => draw === kind).length;
      const plot = page.locator('.yl-TelemetryOutput .yl-ChartPlot');
      // Vertices on screen per trace, whoever drew them.
      const points = await plot.evaluate(node =>
        Array.from(node.querySelectorAll('.scatterlayer .trace')).map(g =>
          Array.from(g.querySelectorAll('path.js-line'))
            .map(p => (p.getAttribute('d') ?? '').split(/[ML]/).length - 1)
            .reduce((a, b) => a + b, 0)
        )
      );
      const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;
      const third = Math.max(1, Math.floor(heaps.length / 3));
      const early = median(heaps.slice(0, third).map(h => h[1]));
      const late = median(heaps.slice(-third).map(h => h[1]));
      console.log(
        `chart update (${SECONDS} s, ${durations.length} updates, ${points.length} traces of a ` +
          `10,000-sample window, drawn as ${points.join('/')} points): ` +
          `median ${median(durations).toFixed(2)} ms, p95 ${quantile(durations, 0.95).toFixed(2)} ms ` +
          `(goal: median < 4 ms); ${drawn('plotly')} plotly redraws, ${drawn('lines')} line-only updates`
      );
      const drawing = median(busyPerS.drawing);
      const paused = median(busyPerS.paused);
      console.log(
        `main thread, all tasks (JupyterLab's output handling, style, layout, paint), ` +
          `median ms busy per second: ${drawing.toFixed(1)} drawing, ${paused.toFixed(1)} paused ` +
          `(${busyPerS.paused.length} of ${busyPerS.drawing.length + busyPerS.paused.length} 5-s phases); ` +
          `the chart's share: ${((drawing - paused) / 10).toFixed(2)} ms per update at 10 updates/s`
      );
      console.log(
        `JS heap after GC: first third ${mb(early)}, last third ${mb(late)} ` +
          `(${(((late - early) / early) * 100).toFixed(1)}%; goal: no growth)`
      );
      expect(durations.length).toBeGreaterThan(0);
    });
  });
});
