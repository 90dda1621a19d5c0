/**
 * Live telemetry in a real JupyterLab with a real kernel: the inline monitor,
 * the sidebar chart, pause, CSV export and the saved output without a kernel.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator, Page } from '@playwright/test';
import * as fs from 'fs';

const INLINE = '.jp-OutputArea-output .yl-TelemetryChart';
const SIDEBAR = '#yolo-lab-panel .yl-TelemetrySection .yl-TelemetryChart';

/** Points in the first trace of a chart, as plotly holds them. */
async function plottedPoints(chart: Locator): Promise<number> {
  return chart.locator('.yl-ChartPlot').evaluate(node => {
    const data = (node as any).data as Array<{ x: unknown[] }> | undefined;
    return data?.[0]?.x.length ?? 0;
  });
}

/** The y values of the first trace (null marks a gap). */
async function firstTrace(chart: Locator): Promise<Array<number | null>> {
  return chart.locator('.yl-ChartPlot').evaluate(node => {
    const data = (node as any).data as
      Array<{ y: Array<number | null> }> | undefined;
    return data?.[0]?.y ?? [];
  });
}

async function expectGrowing(chart: Locator): Promise<number> {
  const before = await plottedPoints(chart);
  await expect
    .poll(() => plottedPoints(chart), { timeout: 30000 })
    .toBeGreaterThan(before);
  return plottedPoints(chart);
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
    await expectGrowing(chart);

    await chart.getByRole('button', { name: 'Pause' }).click();
    await expect(chart).toHaveAttribute('data-paused', 'true');
    const frozen = await plottedPoints(chart);
    // Samples keep arriving in the model while the chart holds still.
    const kept = Number(await chart.getAttribute('data-samples'));
    await expect
      .poll(async () => Number(await chart.getAttribute('data-samples')), {
        timeout: 30000
      })
      .toBeGreaterThan(kept);
    expect(await plottedPoints(chart)).toBe(frozen);
    await chart.getByRole('button', { name: 'Resume' }).click();
    await expect.poll(() => plottedPoints(chart)).toBeGreaterThan(frozen);

    const downloading = page.waitForEvent('download');
    await chart.getByRole('button', { name: 'Export CSV' }).click();
    const download = await downloading;
    expect(download.suggestedFilename()).toMatch(
      /^yolo-lab-telemetry-.*\.csv$/
    );
    const text = fs.readFileSync((await download.path())!, 'utf-8');
    const [header, ...rows] = text.trim().split('\n');
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
      expect(await firstTrace(chart)).not.toContain(null);

      await page.menu.clickMenuItem('Kernel>Restart Kernel…');
      await page
        .getByRole('button', { name: 'Confirm Kernel Restart' })
        .click();
      // The restarted kernel has a new sampler: a break, not a line across.
      await expect
        .poll(() => firstTrace(chart), { timeout: 60000 })
        .toContain(null);
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
    await page.notebook.close();
    await page.kernel.shutdownAll();

    // Reopened without any kernel: the chart comes from the saved output alone.
    await page.reload();
    await page.filebrowser.open(path);
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
