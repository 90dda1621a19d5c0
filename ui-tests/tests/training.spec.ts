/**
 * Training from the panel against a real JupyterLab, a real kernel and a real
 * YOLOv5 run on the CPU (synthetic shapes, 64 px).
 */
import {
  expect,
  galata,
  IJupyterLabPageFixture,
  test
} from '@jupyterlab/galata';
import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page, TestInfo } from '@playwright/test';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const PANEL = '#yolo-lab-panel';
const SECTION = `${PANEL} .yl-TrainSection`;

test.use({ autoGoto: true });

/** The training form's text fields, by the key of the form and the label a user reads. */
const LABELS: Record<string, string> = {
  data: 'Dataset yaml',
  batchSize: 'Batch size',
  epochs: 'Epochs',
  imgsz: 'Image size',
  workers: 'Workers',
  name: 'Run name',
  project: 'Runs folder',
  nproc: 'Processes'
};

async function fill(page: Page, field: string, value: string): Promise<void> {
  await page
    .locator(SECTION)
    .getByRole('textbox', { name: LABELS[field], exact: true })
    .fill(value);
}

/**
 * JupyterLab's own ToolbarButton (the panel's refresh button) renders a
 * `jp-button` host with `aria-pressed`, which axe does not allow on an
 * element without a button role; it is JupyterLab's markup, not ours.
 */
function upstream(rule: string, html: string): boolean {
  return (
    rule === 'aria-allowed-attr' &&
    html.startsWith('<jp-button') &&
    html.includes('jp-ToolbarButtonComponent')
  );
}

/** WCAG contrast ratios of each run badge's text on its own background. */
async function badgeContrasts(page: Page): Promise<number[]> {
  return page.locator('.yl-RunBadge').evaluateAll(nodes => {
    const luminance = (css: string): number => {
      const [r, g, b] = (css.match(/[\d.]+/g) ?? []).slice(0, 3).map(v => {
        const c = Number(v) / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    return nodes.map(node => {
      const style = getComputedStyle(node);
      const [a, b] = [luminance(style.color), luminance(style.backgroundColor)];
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    });
  });
}

/**
 * axe-core's WCAG 2 A and AA rules (contrast, names, roles, labels) on the
 * yolo-lab panel and run views, in the light and then the dark theme; a
 * screenshot of each theme is kept. Returns to the light theme.
 */
async function expectAccessibleInBothThemes(
  page: Page,
  testInfo: TestInfo
): Promise<void> {
  for (const light of [true, false]) {
    const theme = light ? 'light' : 'dark';
    await page.evaluate(
      async id => {
        await (window as any).jupyterapp.commands.execute(
          'apputils:change-theme',
          { theme: id }
        );
      },
      `JupyterLab ${light ? 'Light' : 'Dark'}`
    );
    await expect(page.locator('body')).toHaveAttribute(
      'data-jp-theme-light',
      String(light)
    );
    // The theme's stylesheet is in once a themed colour is computed.
    await expect
      .poll(() =>
        page.evaluate(
          () =>
            getComputedStyle(document.body)
              .getPropertyValue('--jp-layout-color0')
              .trim() === 'white'
        )
      )
      .toBe(light);
    const results = await new AxeBuilder({ page })
      .include(PANEL)
      .include('.yl-RunView')
      .withTags(['wcag2a', 'wcag2aa'])
      .analyze();
    await testInfo.attach(`${theme} theme`, {
      body: await page.screenshot(),
      contentType: 'image/png'
    });
    const found = results.violations.flatMap(v =>
      v.nodes
        .filter(n => !upstream(v.id, n.html))
        .map(
          n => `${v.id}: ${n.target.join(' ')}: ${n.failureSummary ?? v.help}`
        )
    );
    // What axe could not decide (text over a chart, say) is kept to read.
    await testInfo.attach(`${theme} theme: axe could not decide`, {
      body: JSON.stringify(
        results.incomplete.map(v => ({
          rule: v.id,
          nodes: v.nodes.map(n => `${n.target.join(' ')}: ${n.html}`)
        })),
        null,
        2
      ),
      contentType: 'application/json'
    });
    // The status badges, whatever axe decided: 4.5:1 at least.
    for (const ratio of await badgeContrasts(page)) {
      expect(
        ratio,
        `a run badge's contrast in the ${theme} theme`
      ).toBeGreaterThanOrEqual(4.5);
    }
    expect(found, `WCAG A/AA findings in the ${theme} theme`).toEqual([]);
  }
  await page.evaluate(async () => {
    await (window as any).jupyterapp.commands.execute('apputils:change-theme', {
      theme: 'JupyterLab Light'
    });
  });
}

/** A notebook toolbar button, also when it overflowed into the "more" popup. */
function toolbarButton(page: Page, name: RegExp): Locator {
  return page
    .locator('.jp-NotebookPanel-toolbar, .jp-Toolbar-responsive-popup')
    .getByRole('button', { name })
    .first();
}

async function openToolbarOverflow(page: Page): Promise<void> {
  const opener = page.locator(
    '.jp-NotebookPanel-toolbar .jp-Toolbar-responsive-opener'
  );
  if (await opener.isVisible()) {
    await opener.click();
  }
}

/**
 * Points of the run chart's box loss line on screen, read from its SVG path
 * (a short run's points are not decimated).
 */
async function lossPoints(view: Locator): Promise<number> {
  return view.locator('.yl-RunPlot').evaluate(node =>
    Array.from(node.querySelectorAll('.tracerun-box path.js-line'))
      .map(p => (p.getAttribute('d') ?? '').split(/[ML]/).filter(Boolean))
      .reduce((n, points) => n + points.length, 0)
  );
}

/**
 * A reading once it holds still for a second and a half (the run chart
 * redraws at most once a second, so it may lag the last events).
 */
async function settled(read: () => Promise<number>): Promise<number> {
  let last = NaN;
  await expect
    .poll(
      async () => {
        const now = await read();
        const same = now === last;
        last = now;
        return same;
      },
      { intervals: [1500], timeout: 30000 }
    )
    .toBe(true);
  return last;
}

/** Loss points appear in the run chart, then more of them: the run streams. */
async function expectLossStreaming(view: Locator): Promise<void> {
  await expect
    .poll(() => lossPoints(view), { timeout: 180000 })
    .toBeGreaterThan(0);
  const first = await lossPoints(view);
  await expect
    .poll(() => lossPoints(view), { timeout: 180000 })
    .toBeGreaterThan(first);
}

/** The run chart's legend entry of the box loss. */
function lossLegend(view: Locator): Locator {
  // Exactly: the validation's "val box loss" is another entry.
  return view.locator('.yl-RunPlot .legendtext', { hasText: /^box loss$/ });
}

/**
 * A new notebook whose kernel wrote a synthetic shapes set (`train` images)
 * next to it, and the panel opened from its toolbar once the environment is
 * read: the training section, scrolled into view.
 */
async function panelWithShapes(
  page: IJupyterLabPageFixture,
  train: number,
  imageSize = 64,
  setup = ''
): Promise<Locator> {
  await page.notebook.createNew(undefined, { kernel: 'python3' });
  await page.notebook.setCell(
    0,
    'code',
    `${setup}from yolo_lab.shapes import make_shapes_dataset; print(make_shapes_dataset("shapes", train=${train}, val=8, image_size=${imageSize}, overwrite=True))`
  );
  await page.notebook.runCell(0);
  await expect(page.locator('.jp-OutputArea-output').first()).toContainText(
    'data.yaml',
    { timeout: 60000 }
  );
  await page
    .locator('.jp-NotebookPanel-toolbar')
    .getByRole('button', { name: /Check GPU environment/ })
    .click();
  await expect(page.locator(`${PANEL} .yl-EnvironmentView`)).toHaveAttribute(
    'data-phase',
    'ready',
    { timeout: 90000 }
  );
  const section = page.locator(SECTION);
  await section.scrollIntoViewIfNeeded();
  return section;
}

test.describe('training', () => {
  test('set device, batch and AMP, train from the panel, stop, reload', async ({
    page
  }, testInfo) => {
    test.setTimeout(480000);
    const section = await panelWithShapes(page, 16);

    // Device: this machine has no GPU, so the only choice is the CPU.
    const devices = section.locator('input[name="device"]');
    await expect(devices).toHaveCount(1);
    await expect(devices.first()).toHaveValue('cpu');
    await expect(devices.first()).toBeChecked();

    // A wrong batch size is explained and blocks the Train button.
    await fill(page, 'batchSize', '0');
    await expect(
      section.locator('.yl-FormError[data-field="batchSize"]')
    ).toContainText('at least 1');
    await expect(
      section.getByRole('button', { name: 'Train', exact: true })
    ).toBeDisabled();
    await fill(page, 'batchSize', '8');
    await expect(
      section.locator('.yl-FormError[data-field="batchSize"]')
    ).toHaveCount(0);

    // AMP forced on, on the CPU, is refused with what to do; automatic is
    // train()'s default (off on the CPU).
    const amp = section.getByRole('combobox', { name: 'AMP', exact: true });
    await amp.selectOption({ label: 'On' });
    await expect(
      section.locator('.yl-FormError[data-field="amp"]')
    ).toContainText('needs a CUDA device');
    await amp.selectOption({ label: 'Automatic' });

    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'epochs', '200');
    await fill(page, 'imgsz', '64');
    await fill(page, 'workers', '0');
    await fill(page, 'name', 'galata');
    await expect(section.locator('.yl-FormError')).toHaveCount(0);

    await section.getByRole('button', { name: 'Train', exact: true }).click();

    // The written cell is the one the form stands for.
    const cell = page.locator('.jp-Notebook .jp-Cell').nth(1);
    await expect(cell.locator('.jp-Editor')).toContainText('batch_size=8');
    await expect(cell.locator('.jp-Editor')).toContainText('amp=None');
    await expect(cell.locator('.jp-Editor')).toContainText('device="cpu"');

    // Loss points arrive live.
    const view = page.locator('.yl-RunView');
    await expect(view).toHaveAttribute('data-status', /starting|running/, {
      timeout: 60000
    });
    await expectLossStreaming(view);
    await expect(lossLegend(view)).toHaveCount(1);
    await expect(view.locator('.yl-RunDetail')).toContainText(
      'AMP automatic: off'
    );
    await expect(view.locator('.yl-RunProgress')).toContainText('epoch');

    // Stop: the run ends after its batch, with last.pt saved and listed.
    // The notebook toolbar's Stop (the view has its own Stop button too).
    await expect(view.getByRole('button', { name: /^Stop/ })).toBeVisible();
    await openToolbarOverflow(page);
    await toolbarButton(
      page,
      /Stop training|Stop the running training/
    ).click();
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 120000
    });
    await expect(
      view.locator('.yl-RunWeight[data-weight="last.pt"]')
    ).toContainText('runs/train/galata/weights/last.pt');
    await expect(view.getByRole('button', { name: 'Resume' })).toBeVisible();
    await expect(view.getByRole('button', { name: /^Stop/ })).toBeHidden();
    // The window with the stopped run, as in the README.
    await page.screenshot({
      path: path.join(testInfo.outputDir, 'training.png')
    });
    await view.screenshot({
      path: path.join(testInfo.outputDir, 'run-view.png')
    });
    const points = await settled(() => lossPoints(view));

    // Reload: the charts are rebuilt from the run folder.
    await page.notebook.save();
    const notebookPath = await page.evaluate(() => {
      const app = (window as any).jupyterapp;
      return app.shell.currentWidget.context.path as string;
    });
    // A plain browser reload: JupyterLab restores the open notebook, which
    // reconnects to its kernel (galata's reload() expects a launcher).
    await page.evaluate(() => window.location.reload());
    await page.waitForSelector('#jupyterlab-splash', { state: 'detached' });
    await expect(page.locator('.jp-NotebookPanel')).toHaveCount(1, {
      timeout: 60000
    });
    expect(
      await page.evaluate(
        () => (window as any).jupyterapp.shell.currentWidget?.context?.path
      )
    ).toBe(notebookPath);
    const reloaded = page.locator('.yl-RunView');
    await expect(reloaded).toHaveAttribute('data-status', 'stopped', {
      timeout: 90000
    });
    await expect
      .poll(() => lossPoints(reloaded), { timeout: 60000 })
      .toBe(points);
    await expect(lossLegend(reloaded)).toHaveCount(1);
    // The form was kept in the notebook.
    await page
      .locator('.jp-NotebookPanel-toolbar')
      .getByRole('button', { name: /Check GPU environment/ })
      .click();
    await expect(
      page
        .locator(SECTION)
        .getByRole('textbox', { name: 'Batch size', exact: true })
    ).toHaveValue('8');
    // The runs list shows the run.
    await page
      .locator(SECTION)
      .getByRole('button', { name: 'Refresh' })
      .click();
    await expect(
      page.locator(`${PANEL} .yl-RunItem[data-status="stopped"]`)
    ).toContainText('galata');
  });

  test('AMP is automatic by default, with On and Off to force it; the cell says which', async ({
    page
  }) => {
    const section = await panelWithShapes(page, 8);
    const amp = section.getByRole('combobox', { name: 'AMP', exact: true });
    await expect(amp.getByRole('option')).toHaveText([
      'Automatic',
      'On',
      'Off'
    ]);
    await expect(amp.getByRole('option', { selected: true })).toHaveText(
      'Automatic'
    );
    await expect(amp).toHaveAccessibleDescription(/Automatic: on with a GPU/);
    await fill(page, 'data', 'shapes/data.yaml');
    const insert = section.getByRole('button', {
      name: 'Insert training cell'
    });
    const editors = page.locator('.jp-Notebook .jp-Cell .jp-Editor');
    await insert.click();
    await expect(editors.filter({ hasText: 'amp=None' })).toHaveCount(1);
    // Forced off: the next cell says so, and the choice is kept.
    await amp.selectOption({ label: 'Off' });
    await insert.click();
    await expect(editors.filter({ hasText: 'amp=False' })).toHaveCount(1);
    await expect(amp.getByRole('option', { selected: true })).toHaveText('Off');
  });

  test('a 2-process DDP run on the CPU: AMP line, progress and stop', async ({
    page
  }) => {
    test.setTimeout(420000);
    const section = await panelWithShapes(page, 32);

    // Processes must divide the batch: said, and Train blocked.
    await fill(page, 'nproc', '3');
    await fill(page, 'batchSize', '8');
    await expect(
      section.locator('.yl-FormError[data-field="batchSize"]')
    ).toContainText('3 processes of the DDP run');
    await expect(
      section.getByRole('button', { name: 'Train', exact: true })
    ).toBeDisabled();
    await fill(page, 'nproc', '2');
    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'epochs', '200');
    await fill(page, 'imgsz', '64');
    await fill(page, 'workers', '0');
    await fill(page, 'name', 'ddp');
    await expect(section.locator('.yl-FormError')).toHaveCount(0);
    await section.getByRole('button', { name: 'Train', exact: true }).click();

    const cell = page.locator('.jp-Notebook .jp-Cell').nth(1);
    await expect(cell.locator('.jp-Editor')).toContainText('nproc=2');

    const view = page.locator('.yl-RunView');
    await expect(view).toHaveAttribute('data-status', /starting|running/, {
      timeout: 60000
    });
    await expect
      .poll(() => lossPoints(view), { timeout: 240000 })
      .toBeGreaterThan(0);
    const detail = view.locator('.yl-RunDetail');
    await expect(detail).toContainText(
      'DDP on the CPU: 2 processes (gloo; not GPU DDP)'
    );
    // The effective AMP state with its reason (the form wrote amp=None).
    await expect(detail).toContainText(
      'AMP automatic: off (YOLOv5 uses AMP on CUDA devices only)'
    );
    await expect(view.locator('.yl-RunProgress')).toContainText('epoch');

    // The view's Stop reaches both ranks: the run ends stopped, last.pt saved.
    await view.getByRole('button', { name: /^Stop/ }).click();
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 60000
    });
    await expect(
      view.locator('.yl-RunWeight[data-weight="last.pt"]')
    ).toContainText('runs/train/ddp/weights/last.pt');
  });

  test.describe('detached', () => {
    // See panel.spec.ts: Galata's kernel tracker breaks kernel restarts.
    test.use({ kernels: null });

    test('a detached run survives a kernel restart; listed, opened and stopped from the panel', async ({
      page
    }) => {
      test.setTimeout(480000);
      const section = await panelWithShapes(page, 16);
      await fill(page, 'data', 'shapes/data.yaml');
      await fill(page, 'epochs', '500');
      await fill(page, 'batchSize', '8');
      await fill(page, 'imgsz', '64');
      await fill(page, 'workers', '0');
      await fill(page, 'name', 'detached');
      await section
        .getByRole('checkbox', { name: 'Keep running when the kernel stops' })
        .check();
      await expect(section.locator('.yl-FormError')).toHaveCount(0);
      await section.getByRole('button', { name: 'Train', exact: true }).click();
      const cell = page.locator('.jp-Notebook .jp-Cell').nth(1);
      await expect(cell.locator('.jp-Editor')).toContainText('detach=True');
      const view = page.locator('.yl-RunView').first();
      await expect(view).toHaveAttribute('data-status', 'running', {
        timeout: 180000
      });

      // A kernel restart, waited for: an attached run would stop here.
      await page.evaluate(async () => {
        const app = (window as any).jupyterapp;
        await app.shell.currentWidget.sessionContext.session.kernel.restart();
      });

      // The Jupyter server owns it: still training, listed as detached.
      const item = page.locator(`${PANEL} .yl-RunItem[data-detached="true"]`, {
        hasText: 'detached'
      });
      await expect
        .poll(
          async () => {
            await page
              .locator(SECTION)
              .getByRole('button', { name: 'Refresh' })
              .click();
            return item.getAttribute('data-status', { timeout: 5000 });
          },
          { timeout: 60000 }
        )
        .toBe('running');
      const progress = await item.locator('.yl-RunMeta').textContent();
      // Once an epoch has ended its mAP comes in between: how many have by
      // now depends on the machine's speed.
      expect(progress).toMatch(
        /\d+\/500 epochs( · mAP@0\.5 \d+(\.\d+)?)? · detached/
      );
      // The status bar counts it, from the server's list.
      const status = page.locator('#jp-main-statusbar .yl-StatusItem');
      await expect(status).toContainText('1 detached run', { timeout: 60000 });
      await expect(status).toHaveAttribute(
        'title',
        /1 run keeps going on the server without a kernel:\n\s+detached: running/
      );

      // Open: a new cell shows it live from the restarted kernel.
      await item.getByRole('button', { name: /^Open / }).click();
      const reopened = page.locator('.yl-RunView').last();
      await expect(page.locator('.yl-RunView')).toHaveCount(2, {
        timeout: 60000
      });
      await expect(reopened).toHaveAttribute('data-status', 'running', {
        timeout: 90000
      });
      await expectLossStreaming(reopened);

      // Stop from the list: it ends after its batch with last.pt saved.
      await item.getByRole('button', { name: /^Stop/ }).click();
      await expect(reopened).toHaveAttribute('data-status', 'stopped', {
        timeout: 120000
      });
      await expect(
        reopened.locator('.yl-RunWeight[data-weight="last.pt"]')
      ).toContainText('runs/train/detached/weights/last.pt');
      // Ended, it is an ordinary run of the runs folder.
      const ended = page.locator(`${PANEL} .yl-RunItem`, {
        hasText: 'detached'
      });
      await page
        .locator(SECTION)
        .getByRole('button', { name: 'Refresh' })
        .click();
      await expect(ended).toHaveAttribute('data-status', 'stopped');
      await expect(ended).toHaveAttribute('data-detached', 'false');
      // No detached run left to count (read again within a poll).
      await expect(status).not.toContainText('detached', { timeout: 60000 });
    });
  });

  test('a run another process started resumes only after the dialog; a failed run offers no Resume (fabricated crash)', async ({
    page
  }) => {
    test.setTimeout(480000);
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    // A run started and stopped by another Python process (not this kernel),
    // then one that crashes at its fifth batch (fabricated), after last.pt;
    // both shown. One cell, one statement a line.
    const code = [
      'import os, subprocess, sys',
      'from IPython.display import display',
      'from yolo_lab import show_run, train',
      'from yolo_lab.shapes import make_shapes_dataset',
      'make_shapes_dataset("shapes", train=16, val=8, image_size=64, overwrite=True)',
      "script = \"import time\\nfrom yolo_lab import train\\nr = train('shapes/data.yaml', batch_size=8, epochs=300, imgsz=64, workers=0, name='other')\\nwhile r.last is None: time.sleep(0.2)\\nr.stop(wait=True)\\nprint(r.status)\"",
      'print("other:", subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)',
      "os.environ['YOLO_LAB_FABRICATED_CRASH'] = '0:5'",
      "crashed = train('shapes/data.yaml', batch_size=8, epochs=300, imgsz=64, workers=0, name='crashed')",
      'crashed.wait()',
      "del os.environ['YOLO_LAB_FABRICATED_CRASH']",
      'display(crashed)',
      "display(show_run('runs/train/other'))"
    ].join('\n');
    await page.notebook.setCell(0, 'code', code);
    await page.notebook.runCell(0, { wait: false });
    await expect(page.locator('.jp-Cell').first()).toContainText(
      'other: stopped',
      { timeout: 300000 }
    );
    const crashed = page.locator('.yl-RunView').first();
    await expect(crashed).toHaveAttribute('data-status', 'failed', {
      timeout: 300000
    });
    await expect(crashed).toContainText('fabricated crash');
    await expect(
      crashed.locator('.yl-RunWeight[data-weight="last.pt"]')
    ).toContainText('crashed/weights/last.pt');
    await expect(crashed.getByRole('button', { name: 'Resume' })).toBeHidden();

    const view = page.locator('.yl-RunView').nth(1);
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 60000
    });
    const resume = view.getByRole('button', { name: 'Resume' });
    await expect(resume).toBeVisible();
    const cells = await page.locator('.jp-Notebook .jp-Cell').count();

    // Cancel: nothing is written or run.
    await resume.click();
    const dialog = page.locator('.jp-Dialog');
    await expect(dialog).toContainText(
      'Resume a run this kernel did not start?'
    );
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.locator('.jp-Notebook .jp-Cell')).toHaveCount(cells);
    await expect(view).toHaveAttribute('data-status', 'stopped');

    // Resume: the run continues in its folder.
    await resume.click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Resume' })
      .click();
    await expect(page.locator('.jp-Notebook .jp-Cell')).toHaveCount(cells + 1);
    await expect(view).toHaveAttribute('data-status', /starting|running/, {
      timeout: 120000
    });
    await view.getByRole('button', { name: /^Stop/ }).click();
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 120000
    });
  });

  test('a data-bound run: the status bar, its end as a notice, its verdict and one-click fix; contrast in both themes', async ({
    page
  }, testInfo) => {
    test.setTimeout(480000);
    // 1280-px images trained at 64 px with no workers: decoding dominates.
    // One compute thread in the run (it inherits the kernel's environment):
    // on a loaded machine, torch's two spinning threads made computing 40
    // times slower while decoding only slowed with the load, and the run
    // read as computing-bound (83%, a loaded fresh-clone run, 2026-12-07).
    // With one thread both slow alike and the plant stays data-bound.
    const section = await panelWithShapes(
      page,
      40,
      1280,
      'import os; os.environ["OMP_NUM_THREADS"] = "1"\n'
    );
    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'epochs', '2');
    await fill(page, 'batchSize', '8');
    await fill(page, 'imgsz', '64');
    await fill(page, 'workers', '0');
    await fill(page, 'name', 'slow');
    await section.getByRole('button', { name: 'Train', exact: true }).click();
    const view = page.locator('.yl-RunView');
    await expect(view).toHaveAttribute('data-run', /slow$/, {
      timeout: 60000
    });
    // Looking elsewhere (a launcher) while it runs: the status bar still
    // follows the notebook's run, and its end comes as a notice.
    await page.evaluate(async () => {
      await (window as any).jupyterapp.commands.execute('launcher:create');
    });
    const status = page.locator('#jp-main-statusbar .yl-StatusItem');
    await expect(status).toContainText(/epoch [12]\/2/, { timeout: 300000 });
    await expect(status).toHaveAttribute('aria-label', /yolo-lab: .*epoch/);
    const notice = page
      .locator('.Toastify__toast')
      .filter({ hasText: 'Run slow finished' });
    await expect(notice).toBeVisible({ timeout: 400000 });
    await expect(notice).toContainText('mAP@0.5');
    await notice.getByRole('button', { name: 'Open' }).click();
    await expect(view).toBeVisible();
    await expect(view).toHaveAttribute('data-status', 'finished');
    // Ended: the status bar says no epoch any more; a click opens the panel.
    await expect(status).not.toContainText('epoch');
    const verdict = view.locator('.yl-RunVerdict[data-code="data_bound"]');
    await expect(verdict).toBeVisible({ timeout: 30000 });
    await expect(verdict).toContainText('Waiting for data.');
    await expect(verdict).toContainText('with workers=0');
    await verdict.getByRole('button', { name: 'Apply to the form' }).click();
    await expect(
      section.getByRole('textbox', { name: 'Workers', exact: true })
    ).not.toHaveValue('0');
    const workers = Number(
      await section
        .getByRole('textbox', { name: 'Workers', exact: true })
        .inputValue()
    );
    expect(workers).toBeGreaterThanOrEqual(2);
    // The panel and a finished run with its verdict and summary read well
    // in both themes.
    await expect(view.locator('.yl-RunSummary')).toBeVisible();
    await expectAccessibleInBothThemes(page, testInfo);
  });

  test('the toolbar Train with an invalid batch size writes no cell', async ({
    page
  }) => {
    // Wide enough for the whole notebook toolbar (no overflow menu).
    await page.setViewportSize({ width: 1600, height: 1000 });
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    await page
      .locator('.jp-NotebookPanel-toolbar')
      .getByRole('button', { name: /Check GPU environment/ })
      .click();
    await expect(page.locator(`${PANEL} .yl-EnvironmentView`)).toHaveAttribute(
      'data-phase',
      'ready',
      { timeout: 90000 }
    );
    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'batchSize', 'abc');
    const sidebarError = page.locator(
      `${SECTION} .yl-FormError[data-field="batchSize"]`
    );
    await expect(sidebarError).toContainText('is not a number');
    const said = (await sidebarError.textContent()) ?? '';
    const cells = page.locator('.jp-NotebookPanel .jp-Cell');
    await expect(cells).toHaveCount(1);

    // The toolbar's Train (also when it overflowed into the popup) is
    // disabled, the form's reason as its tooltip.
    const train = page.locator(
      '.jp-NotebookPanel-toolbar [data-command="yolo-lab:train"]'
    );
    // A jp-button: disabled by its attributes.
    await expect(train).toHaveAttribute('aria-disabled', 'true');
    await expect(train).toHaveAttribute('title', /is not a number/);
    // Run anyway (a shortcut, another extension): refused with the reason.
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute('yolo-lab:train')
    );
    const notice = page
      .locator('.Toastify__toast')
      .filter({ hasText: 'is not a number' });
    await expect(notice.first()).toContainText(said);
    // The palette's "Insert training cell" is refused the same way.
    await page.evaluate(() =>
      (window as any).jupyterapp.commands.execute(
        'yolo-lab:insert-training-cell'
      )
    );
    await expect(notice.first()).toBeVisible();
    // No cell was written or run: one empty cell, no batch_size=NaN.
    await expect(cells).toHaveCount(1);
    await expect(cells.first().locator('.cm-content')).toHaveText('');
    // A valid batch enables Train again.
    await fill(page, 'batchSize', '8');
    await expect(train).not.toHaveAttribute('aria-disabled', 'true');
  });

  test('the speed table fills in from one click in the panel', async ({
    page
  }) => {
    test.setTimeout(480000);
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    const section = page.locator(SECTION);
    await page
      .locator('.jp-NotebookPanel-toolbar')
      .getByRole('button', { name: /Check GPU environment/ })
      .click();
    await section.scrollIntoViewIfNeeded();
    await section.getByRole('button', { name: 'Speed table' }).click();
    const table = page.locator('.jp-OutputArea-output .yl-Bench');
    // Shown at once, the CPU row still being measured ...
    await expect(table.locator('.yl-Bench-pending')).toContainText(
      'CPU, batch 16',
      { timeout: 120000 }
    );
    // ... then measured: an epoch time, images/s and the CPU as the 1.0x.
    const cpu = table.locator('tbody tr', { hasText: 'CPU, batch 16' });
    await expect(cpu.locator('td').nth(3)).toHaveText('1.0×', {
      timeout: 400000
    });
    expect(
      Number(await cpu.locator('td').nth(2).textContent())
    ).toBeGreaterThan(0);
    await expect(table.locator('.yl-Bench-pending')).toHaveCount(0);
    await expect(table.locator('svg.yl-Bench-bars rect')).toHaveCount(1);
    // No GPU on this machine: the table says why, not just an empty row.
    await expect(table.locator('.yl-Bench-missing')).toContainText(
      'Not measured: GPU rows'
    );
    // One table in the cell: the live one, not a second copy at the end.
    await expect(page.locator('.jp-OutputArea-output .yl-Bench')).toHaveCount(
      1
    );
  });
});

/**
 * Press Tab (or Shift+Tab) until `target` has keyboard focus; fails when it
 * is not reached within `max` presses (not reachable by keyboard).
 */
async function tabTo(
  page: Page,
  target: Locator,
  max = 60,
  key = 'Tab'
): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (await target.evaluate(node => node === document.activeElement)) {
      return;
    }
    await page.keyboard.press(key);
  }
  throw new Error(`not reached by ${key} in ${max} presses`);
}

/** Run a command from the palette, by keyboard. */
async function paletteByKeyboard(page: Page, label: string): Promise<void> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+Shift+C');
  await page.keyboard.type(label);
  await page.keyboard.press('Enter');
}

test.describe('slurm', () => {
  // A failed test leaves no job of its own holding the two nodes.
  test.afterEach(() => {
    for (const name of ['yolo-lab-galata-hold', 'yolo-lab-slurm']) {
      spawnSync('scancel', [`--name=${name}`]);
    }
  });

  test('from the panel, on the test Slurm cluster: pending, running on both nodes, stop', async ({
    page
  }) => {
    test.setTimeout(480000);
    const section = await panelWithShapes(page, 16);
    // A job holds both nodes of the test cluster (scripts/slurm-cluster.sh
    // starts it), so the run waits in the queue first.
    const release = path.join(
      fs.mkdtempSync(path.join(os.tmpdir(), 'yl-slurm-')),
      'release'
    );
    const hold = spawnSync(
      'sbatch',
      [
        '--parsable',
        '--nodes=2',
        '--time=10:00',
        '--job-name=yolo-lab-galata-hold',
        '--output=/dev/null',
        '--wrap',
        `while [ ! -e ${release} ]; do sleep 0.2; done`
      ],
      { encoding: 'utf8' }
    );
    expect(hold.status, hold.stderr).toBe(0);

    const where = section.getByRole('combobox', { name: 'Where', exact: true });
    await where.selectOption({ label: 'A Slurm cluster' });
    // The request's fields replace this kernel's devices.
    await expect(section.locator('input[name="device"]')).toHaveCount(0);
    const field = (name: string) =>
      section.getByRole('textbox', { name, exact: true });
    await field('Partition').fill('debug');
    await field('Nodes').fill('2');
    await field('Time limit').fill('10:00');
    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'epochs', '200');
    await fill(page, 'batchSize', '7');
    await expect(
      section.locator('.yl-FormError[data-field="batchSize"]')
    ).toContainText("over the run's 2 processes (2 nodes)");
    await fill(page, 'batchSize', '8');
    await fill(page, 'imgsz', '64');
    await fill(page, 'workers', '0');
    await fill(page, 'name', 'slurm');
    await expect(section.locator('.yl-FormError')).toHaveCount(0);
    await section.getByRole('button', { name: 'Train', exact: true }).click();
    await expect(
      page.locator('.jp-Notebook .jp-Cell .jp-Editor').filter({
        hasText: 'cluster=Slurm(partition="debug", nodes=2, time="10:00")'
      })
    ).toHaveCount(1);

    // Pending, with Slurm's reason, in the view and the status bar.
    const view = page.locator('.yl-RunView');
    await expect(view).toHaveAttribute('data-status', 'pending', {
      timeout: 60000
    });
    await expect(view.locator('.yl-RunDetail')).toContainText(
      'waiting in the queue (Resources)',
      { timeout: 60000 }
    );
    const status = page.locator('#jp-main-statusbar .yl-StatusItem');
    await expect(status).toContainText('run pending');

    // The nodes free up: running on both, losses streaming live.
    fs.writeFileSync(release, '');
    await expect(view).toHaveAttribute('data-status', /starting|running/, {
      timeout: 90000
    });
    await expect(view.locator('.yl-RunDetail')).toContainText(
      'on node1, node2',
      { timeout: 60000 }
    );
    await expectLossStreaming(view);
    await expect(view.locator('.yl-RunDetail')).toContainText(
      'DDP on the CPU: 2 processes'
    );

    // Stop reaches the ranks on both nodes; last.pt is saved.
    await view.getByRole('button', { name: /^Stop/ }).click();
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 120000
    });
    await expect(
      view.locator('.yl-RunWeight[data-weight="last.pt"]')
    ).toContainText('runs/train/slurm/weights/last.pt');
  });
});

test.describe('keyboard', () => {
  test('keyboard only: open the panel, fill the form, train and stop', async ({
    page
  }) => {
    test.setTimeout(480000);
    await page.notebook.createNew(undefined, { kernel: 'python3' });
    // Setup, not under test: the kernel writes a small dataset.
    await page.notebook.setCell(
      0,
      'code',
      'from yolo_lab.shapes import make_shapes_dataset; print(make_shapes_dataset("shapes", train=16, val=8, image_size=64, overwrite=True))'
    );
    await page.notebook.runCell(0);
    await expect(page.locator('.jp-OutputArea-output').first()).toContainText(
      'data.yaml',
      { timeout: 60000 }
    );
    // The palette opens the panel and focus goes into it.
    await paletteByKeyboard(page, 'Check GPU environment');
    const panel = page.locator(PANEL);
    await expect(panel).toBeVisible();
    await expect
      .poll(() => panel.evaluate(node => node.contains(document.activeElement)))
      .toBe(true);
    const section = page.locator(SECTION);
    const field = (name: string): Locator =>
      section.getByRole('textbox', { name, exact: true });
    for (const [name, value] of [
      ['Dataset yaml', 'shapes/data.yaml'],
      ['Batch size', '8'],
      ['Epochs', '30'],
      ['Image size', '64'],
      ['Workers', '0'],
      ['Run name', 'keys']
    ]) {
      await tabTo(page, field(name));
      await page.keyboard.press('Control+A');
      await page.keyboard.type(value);
      await expect(field(name)).toHaveValue(value);
    }
    // Back up the form to Train (its buttons follow the form), by keyboard.
    const train = section.getByRole('button', { name: 'Train', exact: true });
    await tabTo(page, train);
    // Focus is visible on it.
    const outline = await train.evaluate(
      node => getComputedStyle(node).outlineStyle
    );
    expect(outline).not.toBe('none');
    await page.keyboard.press('Enter');
    const view = page.locator('.yl-RunView');
    await expect(view).toHaveAttribute('data-status', 'running', {
      timeout: 180000
    });
    // Stop from the panel: the palette brings focus back into it.
    await paletteByKeyboard(page, 'Check GPU environment');
    const stop = section.getByRole('button', { name: 'Stop', exact: true });
    await tabTo(page, stop, 80);
    await page.keyboard.press('Enter');
    await expect(view).toHaveAttribute('data-status', 'stopped', {
      timeout: 180000
    });
  });
});

test.describe('autotune', () => {
  // A short budget: two or three real probes on this CPU.
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      // Two probes must fit: a probe takes about 10 s here when the
      // machine is quiet and was over 37 s on a loaded one (one row in 75
      // s, 2026-12-07); a probe starts only if it should end in time.
      'yolo-lab:training': { autotuneBudgetS: 150 }
    }
  });

  test('autotune from the panel fills its table, then the form with the winner', async ({
    page
  }) => {
    test.setTimeout(480000);
    const section = await panelWithShapes(page, 48);
    await fill(page, 'data', 'shapes/data.yaml');
    await fill(page, 'imgsz', '64');
    await fill(page, 'batchSize', '8');
    await fill(page, 'workers', '0');
    await section.getByRole('button', { name: 'Autotune' }).click();
    const table = page.locator('.jp-OutputArea .yl-AutotuneView');
    // At once: the first probe, the form's own settings, is running.
    const pending = table.locator('tr.yl-Autotune-pending');
    await expect(pending).toContainText('probing', { timeout: 120000 });
    await expect(pending.locator('td').nth(1)).toHaveText('8');
    // Then rows as probes end, and the winner applied when the search ends.
    await expect(table.locator('.yl-AutotuneApply')).toBeVisible({
      timeout: 400000
    });
    await expect(pending).toHaveCount(0);
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(2);
    const fastest = table.locator('tr.yl-mod-fastest td');
    const batch = (await fastest.nth(1).textContent()) ?? '';
    const workers = (await fastest.nth(2).textContent()) ?? '';
    await expect(
      section.getByRole('textbox', { name: 'Batch size', exact: true })
    ).toHaveValue(batch);
    await expect(
      section.getByRole('textbox', { name: 'Workers', exact: true })
    ).toHaveValue(workers);
    await expect(section).toContainText('the form now holds');
    // One table in the cell: the live one, not a second copy at the end.
    await expect(table).toHaveCount(1);
    // The button in the output puts the winner back after a change.
    await fill(page, 'batchSize', '3');
    await table.getByRole('button', { name: 'Apply to the form' }).click();
    await expect(
      section.getByRole('textbox', { name: 'Batch size', exact: true })
    ).toHaveValue(batch);
  });
});
