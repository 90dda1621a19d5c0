/**
 * The README's pictures, made from a real run: yolov5n on the course's
 * shapes set, trained from the panel long enough for mAP to rise, with the
 * panel beside it; in the light theme, then the dark one. No test paths in
 * view: the file browser is closed and the cells print none.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as path from 'path';

const DOCS = path.resolve(__dirname, '..', '..', 'docs');
const PANEL = '#yolo-lab-panel';
const SECTION = `${PANEL} .yl-TrainSection`;
// About 4 minutes on 2 CPU cores; long enough for mAP@0.5 to pass 0.5.
const EPOCHS = process.env.PICTURE_EPOCHS ?? '45';

test.use({ autoGoto: true });

/**
 * Wait until the run view looks the same in two captures in a row (its
 * chart redraws at most once a second; the theme's colours apply late).
 */
async function settled(view: Locator): Promise<void> {
  let last = await view.screenshot();
  for (let i = 0; i < 30; i++) {
    const now = await view.screenshot();
    if (now.equals(last)) {
      return;
    }
    last = now;
  }
  throw new Error('the run view kept changing');
}

test('the README pictures: a real run and the panel, light and dark', async ({
  page
}) => {
  test.setTimeout(1800000);
  await page.notebook.createNew('train-shapes.ipynb', { kernel: 'python3' });
  await page.sidebar.close('left');
  await page.notebook.setCell(
    0,
    'code',
    'from yolo_lab.shapes import make_shapes_dataset\n\n' +
      'data = make_shapes_dataset("shapes", train=128, val=32, image_size=128, overwrite=True)'
  );
  await page.notebook.runCell(0);
  await page
    .locator('.jp-NotebookPanel-toolbar')
    .getByRole('button', { name: /Check GPU environment/ })
    .click();
  await expect(page.locator(`${PANEL} .yl-EnvironmentView`)).toHaveAttribute(
    'data-phase',
    'ready',
    { timeout: 120000 }
  );
  const section = page.locator(SECTION);
  const fill = async (name: string, value: string): Promise<void> => {
    await section.locator(`input[name="${name}"]`).fill(value);
  };
  await fill('data', 'shapes/data.yaml');
  await fill('epochs', EPOCHS);
  await fill('imgsz', '128');
  await fill('batchSize', '16');
  await fill('workers', '2');
  await fill('name', 'shapes');
  await section.getByRole('button', { name: 'Train', exact: true }).click();
  const view = page.locator('.yl-RunView');
  await expect(view).toHaveAttribute('data-status', 'finished', {
    timeout: 1500000
  });
  await page.notebook.save();
  await view.scrollIntoViewIfNeeded();
  // The form from its top (filling it scrolled the section).
  await section.evaluate(node => node.scrollTo(0, 0));
  await settled(view);
  await page.screenshot({ path: path.join(DOCS, 'run-light.png') });
  await page.theme.setDarkTheme();
  await expect(page.locator('body')).toHaveAttribute(
    'data-jp-theme-light',
    'false'
  );
  await settled(view);
  await page.screenshot({ path: path.join(DOCS, 'run-dark.png') });
  await page.theme.setLightTheme();
});
