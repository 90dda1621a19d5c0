/**
 * Browser benchmark of the training run view (figures printed, nothing
 * asserted but that the run happened): `npm run bench` in ui-tests/.
 *
 * A run folder is written with 4,000 batches of history, then the kernel
 * appends 200 batches every 0.25 s (the run hub's poll) until the view holds
 * BENCH_RUN_BATCHES (default 19,000, under the model's 20,000-point bound):
 * the main-thread time of each redraw is printed as the view grows.
 */
import { expect, test } from '@jupyterlab/galata';

const TARGET = Number(process.env.BENCH_RUN_BATCHES ?? 19000);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

test.use({ autoGoto: false });

test('run view: redraw cost as a run grows', async ({ page, tmpPath }) => {
  test.setTimeout(600000);
  await page.goto();
  await page.notebook.createNew(undefined, { kernel: 'python3' });
  await page.evaluate(() => {
    const w = window as any;
    w.__ylRun = [] as Array<[number, number, number]>;
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        // Each redraw's measure says how many batches the view held.
        if (e.name === 'yolo-lab:run-chart-update') {
          w.__ylRun.push([
            Number((e as PerformanceMeasure).detail?.batches ?? 0),
            e.duration,
            e.startTime
          ]);
        }
      }
    }).observe({ entryTypes: ['measure'] });
  });
  // One statement a line: the editor's auto-indent would change blocks.
  const code = [
    'import json, os, time, random, pathlib, threading, yolo_lab',
    `d = pathlib.Path(${JSON.stringify(tmpPath)}, 'bench-run').resolve()`,
    'd.mkdir(parents=True, exist_ok=True)',
    't0 = time.time() - 100000',
    'def b(i): return {"t": t0 + i * 2, "kind": "batch", "epoch": i // 100, "epochs": 1000, "batch": i % 100, "batches": 100, "ni": i, "box": 0.1 / (1 + i / 5000) + random.random() * 0.005, "obj": 0.05 + random.random() * 0.005, "cls": 0.02 + random.random() * 0.002, "images": 16, "imgs_per_s": 100 + random.random() * 20, "gpu_mem_gib": None, "imgsz": 128}',
    'def ep(k): return {"t": t0 + k * 200 + 199, "kind": "epoch", "epoch": k, "epochs": 1000, "box": 0.1, "obj": 0.05, "cls": 0.02, "precision": 0.5, "recall": 0.5, "map50": min(0.9, k / 200), "map": min(0.6, k / 300), "val_box": 0.1, "val_obj": 0.05, "val_cls": 0.02, "lr": [0.01, 0.01, 0.01], "epoch_time_s": 200, "fitness": 0.5}',
    'def write(events): f = open(d / "yolo_lab_events.jsonl", "a"); f.write("".join(json.dumps(e) + "\\n" for e in events)); f.close()',
    '(d / "yolo_lab_run.json").write_text(json.dumps({"status": "running", "pid": os.getpid()}))',
    'write([{"t": t0, "kind": "status", "status": "running"}] + [e for i in range(4000) for e in ([b(i)] + ([ep(i // 100)] if i % 100 == 99 else []))])',
    'def grow(): [(time.sleep(0.25), write([e for i in range(n, n + 200) for e in ([b(i)] + ([ep(i // 100)] if i % 100 == 99 else []))])) for n in range(4000, 4000 + ' +
      `${TARGET}, 200)]`,
    'threading.Thread(target=grow, daemon=True).start()',
    'yolo_lab.show_run(d)'
  ].join('\n');
  await page.notebook.setCell(0, 'code', code);
  await page.notebook.runCell(0);
  const plot = page.locator('.yl-RunPlot');
  await expect(plot).toBeVisible({ timeout: 60000 });
  await expect
    .poll(() => page.evaluate(() => (window as any).__ylRun.at(-1)?.[0] ?? 0), {
      timeout: 300000,
      intervals: [1000]
    })
    .toBeGreaterThanOrEqual(TARGET);
  const draws: Array<[number, number, number]> = await page.evaluate(
    () => (window as any).__ylRun
  );
  const drawn = await plot.evaluate(node =>
    ((node as any).data as Array<{ name: string; x: unknown[] }>)
      .filter(d => d.name === 'box loss')
      .map(d => d.x.length)
  );
  const band = (lo: number, hi: number): string => {
    const ms = draws.filter(([n]) => n >= lo && n < hi).map(([, d]) => d);
    return `${lo}-${hi}: median ${median(ms).toFixed(1)} ms (${ms.length} redraws)`;
  };
  const step = Math.ceil(TARGET / 4 / 1000) * 1000;
  const bands = [0, step, 2 * step, 3 * step, TARGET + 1000].map((v, i, a) =>
    i + 1 < a.length ? band(v, a[i + 1]) : ''
  );
  const seconds = (draws.at(-1)![2] - draws[0][2]) / 1000;
  console.log(
    `run view redraw by batch points held: ${bands.filter(Boolean).join('; ')}; ` +
      `the box loss drawn as ${drawn.join('/')} points at the end; ` +
      `${draws.length} redraws in ${seconds.toFixed(1)} s of events at 4 a second`
  );
  expect(draws.length).toBeGreaterThan(0);
});
