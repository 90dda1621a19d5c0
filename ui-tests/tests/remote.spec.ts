/**
 * The panel talking to a kernel on another Jupyter server: a real second
 * server on this machine, and a real server in a container started by the
 * launcher (`yolo-lab up --server-only`, the image of docker/; the launcher
 * suite of scripts/test.sh builds it and starts the engine first).
 */
import { expect, test } from '@jupyterlab/galata';
import type { Page } from '@playwright/test';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const PANEL = '#yolo-lab-panel';
// The Galata server's port, chosen once by playwright.config.js.
const LAB_ORIGIN = `http://127.0.0.1:${process.env.YOLO_LAB_GALATA_PORT}`;
const REPO = path.resolve(__dirname, '..', '..');
const PYTHON = process.env.YOLO_LAB_PYTHON ?? 'python';

/** A Jupyter server to connect to, and where its kernel sees our files. */
interface IServer {
  /** The container's name when the launcher started it (the panel lists it). */
  launched?: string;
  url: string;
  token: string;
  /** The shapes dataset's yaml, as the server's kernel sees it. */
  data: string;
  /** Runs folder (project), as the kernel sees it. */
  project: string;
  /** The same runs folder on this machine. */
  hostProject: string;
  stop(): void;
}

async function waitForServer(url: string, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + 60000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || !alive()) {
      throw new Error(`the Jupyter server did not answer ${url}`);
    }
    await new Promise(resolve => setTimeout(resolve, 250));
  }
}

function makeShapes(dir: string): void {
  execFileSync(PYTHON, [
    '-m',
    'yolo_lab.shapes',
    dir,
    '--train',
    '16',
    '--val',
    '8',
    '--size',
    '64'
  ]);
}

/** `jupyter server` on this machine, with its own token and folder. */
async function hostServer(): Promise<IServer> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'yolo-lab-remote-'));
  const token = `t${Math.random().toString(36).slice(2)}`;
  const port = 8899;
  const log = fs.openSync(path.join(root, 'server.log'), 'w');
  const server: ChildProcess = spawn(
    PYTHON,
    [
      '-m',
      'jupyter_server',
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--ServerApp.port_retries=0',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.allow_origin=${LAB_ORIGIN}`,
      `--ServerApp.root_dir=${root}`,
      '--ServerApp.jpserver_extensions=jupyterlab=False',
      '--allow-root'
    ],
    // Kernels started without a path run in the server's working directory.
    { cwd: root, stdio: ['ignore', log, log] }
  );
  await waitForServer(
    `http://127.0.0.1:${port}/api/status?token=${token}`,
    () => server.exitCode === null
  );
  makeShapes(path.join(root, 'shapes'));
  return {
    url: `http://127.0.0.1:${port}/`,
    token,
    data: path.join(root, 'shapes', 'data.yaml'),
    project: path.join(root, 'runs'),
    hostProject: path.join(root, 'runs'),
    stop: () => {
      server.kill('SIGTERM');
      fs.mkdirSync('test-results', { recursive: true });
      fs.copyFileSync(
        path.join(root, 'server.log'),
        path.join('test-results', 'remote-host-server.log')
      );
      fs.rmSync(root, { recursive: true, force: true });
    }
  };
}

/** A server in a container, started by the launcher; runs mounted at /runs. */
async function containerServer(): Promise<IServer> {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'yolo-lab-container-'));
  // JupyterLab's root in the container: a folder its user can write.
  const notebooks = fs.mkdtempSync(
    path.join(os.tmpdir(), 'yolo-lab-notebooks-')
  );
  fs.chmodSync(notebooks, 0o777);
  const cli = path.join(REPO, 'launcher', 'lib', 'src', 'cli.js');
  const out = execFileSync(
    'node',
    [
      cli,
      'up',
      '--server-only',
      '--network',
      'host',
      '--gpus',
      'none',
      '--notebooks',
      notebooks,
      '--runs',
      runs,
      '--allow-origin',
      LAB_ORIGIN,
      '--json'
    ],
    { encoding: 'utf-8', timeout: 180000 }
  );
  const result = JSON.parse(out) as {
    name: string;
    url: string;
    token: string;
  };
  // The dataset is made here, in the mounted folder, with the path the
  // container sees in its yaml.
  makeShapes(path.join(runs, 'shapes'));
  const yaml = path.join(runs, 'shapes', 'data.yaml');
  fs.writeFileSync(
    yaml,
    fs
      .readFileSync(yaml, 'utf-8')
      .replace(/^path: .*$/m, 'path: "/runs/shapes"')
  );
  fs.chmodSync(runs, 0o777);
  return {
    launched: result.name,
    url: result.url,
    token: result.token,
    data: '/runs/shapes/data.yaml',
    project: '/runs',
    hostProject: runs,
    stop: () => {
      // --force: this test is about the panel; the launcher's own tests
      // check what down refuses.
      execFileSync('node', [cli, 'down', '--force', result.name], {
        timeout: 180000
      });
      fs.rmSync(runs, { recursive: true, force: true });
      fs.rmSync(notebooks, { recursive: true, force: true });
    }
  };
}

async function trainThere(page: Page, server: IServer): Promise<void> {
  await page.notebook.createNew(undefined, { kernel: 'python3' });
  await page
    .locator('.jp-NotebookPanel-toolbar')
    .getByRole('button', { name: /Check GPU environment/ })
    .click();
  const target = page.locator(`${PANEL} .yl-TargetSection`);
  await expect(target).toHaveAttribute('data-target', 'notebook');
  await expect(
    target.getByRole('button', { name: "Back to the notebook's kernel" })
  ).toBeHidden();
  const host = new URL(server.url).host;

  if (server.launched) {
    // Picked from the servers `yolo-lab up` recorded: no URL or token typed.
    // The list the browser gets carries no token; the one server's token
    // is asked for when it is used.
    const listed = page.waitForResponse(r =>
      new URL(r.url()).pathname.endsWith('/yolo-lab/servers')
    );
    await target.getByRole('button', { name: 'Refresh' }).click();
    expect(await (await listed).text()).not.toContain(server.token);
    const item = target.locator(
      `.yl-LaunchedServer[data-name="${server.launched}"]`
    );
    await expect(item).toHaveAttribute('data-alive', 'true');
    await item.getByRole('button', { name: /^Use / }).click();
  } else {
    // A wrong token is refused with what to check.
    await target.getByRole('textbox', { name: 'Server URL' }).fill(server.url);
    await target.getByLabel('Server token').fill('wrong');
    await target.getByRole('button', { name: 'Connect', exact: true }).click();
    await expect(target.locator('.yl-TargetMessage')).toContainText('token');

    await target.getByLabel('Server token').fill(server.token);
    await target.getByRole('button', { name: 'Connect', exact: true }).click();
  }
  await expect(target).toHaveAttribute('data-target', 'server');
  const view = page.locator(`${PANEL} .yl-EnvironmentView`);
  await expect(view).toHaveAttribute('data-phase', 'ready', {
    timeout: 90000
  });
  await expect(view).toContainText(host);

  // The server's kernel trains; the run opens in the main area and its
  // files land in the server's folder.
  const section = page.locator(`${PANEL} .yl-TrainSection`);
  await section
    .getByRole('textbox', { name: 'Dataset yaml', exact: true })
    .fill(server.data);
  await section
    .getByRole('textbox', { name: 'Batch size', exact: true })
    .fill('8');
  await section.getByRole('textbox', { name: 'Epochs', exact: true }).fill('1');
  await section
    .getByRole('textbox', { name: 'Image size', exact: true })
    .fill('64');
  await section
    .getByRole('textbox', { name: 'Workers', exact: true })
    .fill('0');
  await section
    .getByRole('textbox', { name: 'Run name', exact: true })
    .fill('remote');
  await section
    .getByRole('textbox', { name: 'Runs folder', exact: true })
    .fill(server.project);
  await section.getByRole('button', { name: 'Train', exact: true }).click();
  const run = page.locator('.jp-MainAreaWidget .yl-RunView');
  await expect(run).toHaveAttribute('data-status', 'finished', {
    timeout: 240000
  });
  await expect(
    run.locator('.yl-RunWeight[data-weight="best.pt"]')
  ).toContainText(`${server.project}/remote/weights/best.pt`);
  expect(
    fs.statSync(path.join(server.hostProject, 'remote/weights/last.pt')).size
  ).toBeGreaterThan(100000);

  // Back to the notebook's kernel.
  await target
    .getByRole('button', { name: "Back to the notebook's kernel" })
    .click();
  await expect(target).toHaveAttribute('data-target', 'notebook');
  await expect(view).toHaveAttribute('data-phase', 'ready', {
    timeout: 90000
  });
  await expect(view).not.toContainText(host);
}

// Galata's kernel tracker answers /api/kernels on every origin itself,
// without the CORS headers the other server sends: leave those routes alone.
test.use({ autoGoto: true, kernels: null });

test.describe('kernel on another Jupyter server', () => {
  test('a second server on this machine: doctor and training there', async ({
    page
  }) => {
    test.setTimeout(300000);
    const server = await hostServer();
    try {
      await trainThere(page, server);
    } finally {
      server.stop();
    }
  });

  test('a server in a container (yolo-lab up --server-only): doctor and training there', async ({
    page
  }) => {
    test.setTimeout(420000);
    const server = await containerServer();
    try {
      await trainThere(page, server);
    } finally {
      server.stop();
    }
  });
});
