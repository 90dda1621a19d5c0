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
        'yolo-lab:panel': {
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
        w.__ylUpdates = [] as number[];
        new PerformanceObserver(list => {
          for (const e of list.getEntries()) {
            w.__ylUpdates.push(e.duration);
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
      const heap = async (): Promise<number> =>
        page.evaluate(() => (performance as any).memory?.usedJSHeapSize ?? NaN);
      void page.notebook.runCell(0);
      await expect(
        page.locator('.yl-TelemetryOutput .yl-TelemetryChart')
      ).toBeVisible({
        timeout: 60000
      });
      const heaps: Array<[number, number]> = [];
      const t0 = Date.now();
      while (Date.now() - t0 < SECONDS * 1000) {
        await page.waitForTimeout(5000);
        heaps.push([(Date.now() - t0) / 1000, await heap()]);
      }
      const durations: number[] = await page.evaluate(
        () => (window as any).__ylUpdates
      );
      const points = await page
        .locator('.yl-TelemetryOutput .yl-ChartPlot')
        .evaluate(node => (node as any).data.map((d: any) => d.x.length));
      const kept = await page
        .locator('.yl-TelemetryOutput .yl-TelemetryChart')
        .getAttribute('data-samples');
      const mb = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MB`;
      const third = Math.max(1, Math.floor(heaps.length / 3));
      const early = median(heaps.slice(0, third).map(h => h[1]));
      const late = median(heaps.slice(-third).map(h => h[1]));
      console.log(
        `chart update (${SECONDS} s, ${durations.length} updates, ${points.length} traces of ${kept} ` +
          `samples, drawn as ${points.join('/')} points): ` +
          `median ${median(durations).toFixed(2)} ms, p95 ${quantile(durations, 0.95).toFixed(2)} ms ` +
          `(goal: median < 4 ms)`
      );
      console.log(
        `JS heap: first third ${mb(early)}, last third ${mb(late)} ` +
          `(${(((late - early) / early) * 100).toFixed(1)}%; goal: no growth)`
      );
      expect(durations.length).toBeGreaterThan(0);
    });
  });
});
