/**
 * The training plugins' bodies, as index.ts wires them: the controller with
 * its sidebar section, commands and marks, and the renderers of run and
 * autotune outputs.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { type ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import type { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import type { INotebookTracker } from '@jupyterlab/notebook';
import { type IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { type ITranslator, nullTranslator } from '@jupyterlab/translation';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { IEnvironment } from '../environment/tokens';
import { yoloLabIcon } from '../icons';
import { LazyRenderer } from '../lazy';
import { loadDefinitionCheck } from '../protocol';
import { followSettings, TRAINING_SETTINGS } from '../settings';
import { type ISidebar, SECTION_SIZES } from '../sidebar';
import type { ITelemetry } from '../telemetry/tokens';
import type { IKernelTransport } from '../tokens';
import { AUTOTUNE_MIME } from './autotune';
import { NotebookCells } from './cells';
import { addTrainingCommands, CommandIDs } from './commands';
import { TrainingController } from './controller';
import { AUTOTUNE_BUDGET_S } from './form';
import { RunningMarks } from './runningMark';
import { TrainSection } from './section';
import type { IRuns } from './tokens';
import { type IRunDisplay, RUN_MIME } from './types';

/** Training: the form in the sidebar, its commands and toolbar buttons. */
export function activateTraining(
  app: JupyterFrontEnd,
  transport: IKernelTransport,
  runs: IRuns,
  environment: IEnvironment,
  tracker: INotebookTracker,
  sidebar: ISidebar,
  telemetry: ITelemetry | null,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
  browser: IDefaultFileBrowser | null,
  settings: ISettingRegistry | null
): void {
  const trans = (translator ?? nullTranslator).load('yolo_lab');
  // With a kernel on another server, runs show in main-area views.
  const openView = async (display: IRunDisplay): Promise<void> => {
    const { RunView } = await import('./view');
    const view = new RunView({
      runs,
      trans,
      check: () => loadDefinitionCheck('run_display'),
      resume: (run, kernel) =>
        app.commands.execute(CommandIDs.resumeRun, { run, kernel })
    });
    const widget = new MainAreaWidget({ content: view });
    widget.id = `yolo-lab-run-${display.name}-${Date.now()}`;
    widget.title.label = trans.__('Run %1', display.name);
    widget.title.icon = yoloLabIcon;
    app.shell.add(widget, 'main');
    void view.renderModel(
      new MimeModel({ data: { [RUN_MIME]: { ...display } as any } })
    );
  };
  const controller = new TrainingController({
    transport,
    runs,
    notebooks: new NotebookCells(tracker),
    environment: environment.model,
    telemetry: telemetry?.model ?? null,
    openView,
    trans
  });
  const section = new TrainSection({
    controller,
    trans,
    serverSettings: app.serviceManager.serverSettings,
    selectedFile: () => {
      const item = browser?.selectedItems().next();
      return item && !item.done ? item.value.path : null;
    }
  });
  section.title.label = trans.__('Training');
  section.id = 'yl-section-training';
  sidebar.addSection(section, 30, SECTION_SIZES.training);
  followSettings(
    app,
    settings,
    TRAINING_SETTINGS,
    { autotuneBudgetS: AUTOTUNE_BUDGET_S },
    s => (controller.autotuneBudgetS = s.autotuneBudgetS)
  );
  addTrainingCommands(app.commands, controller, {
    trans,
    showPanel: () => app.shell.activateById(sidebar.id)
  });
  new RunningMarks({ panels: tracker, runs, trans });
  for (const command of [
    CommandIDs.insertTrainingCell,
    CommandIDs.train,
    CommandIDs.stopTraining,
    CommandIDs.benchmark,
    CommandIDs.autotune
  ]) {
    palette?.addItem({ command, category: trans.__('yolo-lab') });
  }
}

/**
 * The renderers of training-run outputs (`yolo_lab.train(...)`: live charts
 * fed from the run folder through the runs client) and of autotune outputs.
 */
export function activateRunOutput(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  runs: IRuns,
  translator: ITranslator | null
): void {
  const trans = (translator ?? nullTranslator).load('yolo_lab');
  rendermime.addFactory(
    {
      safe: true,
      mimeTypes: [RUN_MIME],
      defaultRank: 0,
      // The view and its figures load with the first run output.
      createRenderer: () =>
        new LazyRenderer(async () => {
          const { RunView } = await import('./view');
          return new RunView({
            runs,
            trans,
            check: () => loadDefinitionCheck('run_display'),
            resume: async (run, kernel) => {
              await app.commands.execute(CommandIDs.resumeRun, {
                run,
                kernel
              });
            },
            applyFix: form =>
              void app.commands.execute(CommandIDs.applyFix, {
                form: form as ReadonlyPartialJSONObject
              })
          });
        })
    },
    0
  );
  rendermime.addFactory(
    {
      safe: true,
      mimeTypes: [AUTOTUNE_MIME],
      defaultRank: 0,
      // The table's code loads with the first autotune output.
      createRenderer: () =>
        new LazyRenderer(async () => {
          const { AutotuneView } = await import('./autotuneView');
          return new AutotuneView({
            trans,
            check: () => loadDefinitionCheck('autotune_display'),
            applyForm: form =>
              void app.commands.execute(CommandIDs.applyFix, {
                form: form as ReadonlyPartialJSONObject
              })
          });
        })
    },
    0
  );
}
