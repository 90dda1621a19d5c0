/**
 * The status plugins' bodies, as index.ts wires them: the status bar item
 * and the notices of runs that end out of sight.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { INotebookTracker } from '@jupyterlab/notebook';
import type { IStatusBar } from '@jupyterlab/statusbar';
import { type ITranslator, nullTranslator } from '@jupyterlab/translation';
import { type ISidebar, SIDEBAR_ID } from '../sidebar';
import type { ITelemetry } from '../telemetry/tokens';
import type { IKernelTransport } from '../tokens';
import { CommandIDs } from '../training/commands';
import { fetchDetachedRuns } from '../training/detached';
import type { IRuns } from '../training/tokens';
import { DetachedCount } from './detached';
import { StatusItem } from './item';
import { StatusModel } from './model';
import { RunNotifier, showRun } from './notices';
import { RunWatch } from './watch';

/**
 * The status bar item: the kernel's GPU (or CPU) use while telemetry flows,
 * the current notebook's running run's epoch and ETA; a click opens the panel.
 */
export function activateStatus(
  app: JupyterFrontEnd,
  statusBar: IStatusBar,
  transport: IKernelTransport,
  runs: IRuns,
  tracker: INotebookTracker,
  telemetry: ITelemetry | null,
  sidebar: ISidebar | null,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load('yolo_lab');
  const model = new StatusModel({
    telemetry: telemetry?.model ?? null,
    watch: new RunWatch(runs.registry),
    notebooks: tracker,
    transport,
    detached: new DetachedCount({
      list: () => fetchDetachedRuns(app.serviceManager.serverSettings)
    }),
    trans
  });
  const item = new StatusItem(model, {
    trans,
    onClick: () => app.shell.activateById(sidebar?.id ?? SIDEBAR_ID)
  });
  statusBar.registerStatusItem('yolo-lab:status', {
    item,
    align: 'left',
    rank: 100,
    isActive: () => model.visible,
    activeStateChanged: model.changed
  });
}

/** Notices when a run the user is not looking at finishes, fails or stops. */
export function activateNotices(
  app: JupyterFrontEnd,
  runs: IRuns,
  translator: ITranslator | null
): void {
  new RunNotifier({
    watch: new RunWatch(runs.registry),
    current: () => app.shell.currentWidget,
    open: run =>
      void showRun(run, {
        registry: runs.registry,
        mainWidgets: () => app.shell.widgets('main'),
        activate: id => app.shell.activateById(id),
        openRun: r => app.commands.execute(CommandIDs.openRun, { run: r })
      }),
    trans: (translator ?? nullTranslator).load('yolo_lab')
  });
}
