/**
 * yolo-lab plugins. This file only wires: each plugin builds its feature's
 * objects from the modules and hands them what they need.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStateDB } from '@jupyterlab/statedb';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import {
  DEFAULT_ENVIRONMENT_SETTINGS,
  EnvironmentClient
} from './environment/client';
import { DoctorNotices } from './environment/notice';
import { LazyRenderer } from './lazy';
import { IEnvironment } from './environment/tokens';
import { EnvironmentView } from './environment/view';
import { yoloLabIcon } from './icons';
import { loadDefinitionCheck } from './protocol';
import { followSettings, KERNEL_SETTINGS, PANEL_SETTINGS } from './settings';
import {
  ISidebar,
  rememberSections,
  SECTION_SIZES,
  Sidebar,
  SIDEBAR_ID
} from './sidebar';
import { DetachedCount } from './status/detached';
import { StatusItem } from './status/item';
import { StatusModel } from './status/model';
import { RunNotifier, showRun } from './status/notices';
import { RunWatch } from './status/watch';
import { TargetSection } from './target';
import { DEFAULT_INTERVAL_S, TelemetryClient } from './telemetry/client';
import { chartLabels } from './telemetry/labels';
import { DEFAULT_METRICS } from './telemetry/metrics';
import { DEFAULT_WINDOW_S } from './telemetry/model';
import { TelemetryOutput } from './telemetry/output';
import { TelemetrySection } from './telemetry/section';
import { ITelemetry } from './telemetry/tokens';
import { TELEMETRY_MIME } from './telemetry/types';
import { IKernelTransport } from './tokens';
import { AUTOTUNE_MIME, AutotuneView } from './training/autotune';
import { NotebookCells } from './training/cells';
import { addTrainingCommands, CommandIDs } from './training/commands';
import { TrainingController } from './training/controller';
import { fetchDetachedRuns } from './training/detached';
import { AUTOTUNE_BUDGET_S } from './training/form';
import { RunningMarks } from './training/runningMark';
import { RunsClient } from './training/runs';
import { TrainSection } from './training/section';
import { IRuns } from './training/tokens';
import { IRunDisplay, RUN_MIME } from './training/types';
import { KernelTransport, notebookSource } from './transport';

export { IKernelTransport } from './tokens';
export { IEnvironment } from './environment/tokens';
export { ITelemetry } from './telemetry/tokens';
export { IRuns } from './training/tokens';
export { ISidebar } from './sidebar';

// Webpack keeps only the `version` field of package.json in the bundle.
declare const require: (id: string) => unknown;
const { version: VERSION } = require('../package.json') as { version: string };

const CHECK_ENVIRONMENT = 'yolo-lab:check-environment';

/** Chart settings of schema/panel.json. */
const DEFAULT_CHART_SETTINGS = {
  telemetryWindowS: DEFAULT_WINDOW_S,
  telemetryMetrics: DEFAULT_METRICS
};

/**
 * The transport: follows the active notebook's kernel (or a remote one)
 * over the `yolo_lab` comm. Its id keeps the users' kernel settings.
 */
const transportPlugin: JupyterFrontEndPlugin<IKernelTransport> = {
  id: KERNEL_SETTINGS,
  description: 'Connects yolo-lab to the kernel of the active notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  provides: IKernelTransport,
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) =>
    new KernelTransport(notebookSource(tracker), VERSION)
};

/** The sidebar, with the kernel target picker at its top. */
const sidebarPlugin: JupyterFrontEndPlugin<ISidebar> = {
  id: PANEL_SETTINGS,
  description:
    'The yolo-lab sidebar: kernel, environment, telemetry, training.',
  autoStart: true,
  requires: [IKernelTransport],
  optional: [ILayoutRestorer, ITranslator, IStateDB],
  provides: ISidebar,
  activate: (
    app: JupyterFrontEnd,
    transport: IKernelTransport,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    state: IStateDB | null
  ): ISidebar => {
    const sidebar = new Sidebar(translator ?? nullTranslator);
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    const target = new TargetSection(transport, undefined, trans);
    target.title.label = trans.__('Kernel');
    target.id = 'yl-section-kernel';
    sidebar.addSection(target, 0, SECTION_SIZES.kernel);
    rememberSections(sidebar, state);
    app.shell.add(sidebar, 'right', { rank: 600 });
    restorer?.add(sidebar, SIDEBAR_ID);
    return sidebar;
  }
};

/** The environment doctor: its sidebar section, command and button. */
const environmentPlugin: JupyterFrontEndPlugin<IEnvironment> = {
  id: 'yolo-lab:environment',
  description: 'The GPU environment of the kernel: doctor and findings.',
  autoStart: true,
  requires: [IKernelTransport, ISidebar],
  optional: [ICommandPalette, ITranslator, ISettingRegistry],
  provides: IEnvironment,
  activate: (
    app: JupyterFrontEnd,
    transport: IKernelTransport,
    sidebar: ISidebar,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    settings: ISettingRegistry | null
  ): IEnvironment => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    const environment = new EnvironmentClient(transport);
    followSettings(
      app,
      settings,
      KERNEL_SETTINGS,
      DEFAULT_ENVIRONMENT_SETTINGS,
      s => environment.configure(s)
    );
    new DoctorNotices(environment.model, {
      seen: () => sidebar.isVisible,
      notify: notice =>
        Notification.error(notice.message, {
          autoClose: false,
          actions: [
            {
              label: trans.__('Open the panel'),
              callback: () => app.shell.activateById(sidebar.id)
            }
          ]
        }),
      trans
    });
    const view = new EnvironmentView(environment.model, translator);
    view.title.label = trans.__('GPU environment');
    view.id = 'yl-section-environment';
    sidebar.addSection(view, 10, SECTION_SIZES.environment);
    sidebar.addButton(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Check the environment again'),
        onClick: () => void environment.check()
      })
    );
    app.commands.addCommand(CHECK_ENVIRONMENT, {
      label: trans.__('Check GPU environment'),
      caption: trans.__(
        'Check GPU environment: what the kernel sees (GPUs, driver, CUDA, torch, shared memory, YOLOv5)'
      ),
      icon: yoloLabIcon,
      execute: async () => {
        app.shell.activateById(sidebar.id);
        await environment.check();
      }
    });
    palette?.addItem({
      command: CHECK_ENVIRONMENT,
      category: trans.__('yolo-lab')
    });
    return environment;
  }
};

/** Live telemetry of the kernel, and its sidebar chart. */
const telemetryPlugin: JupyterFrontEndPlugin<ITelemetry> = {
  id: 'yolo-lab:telemetry',
  description: 'Live GPU (or CPU) telemetry of the kernel.',
  autoStart: true,
  requires: [IKernelTransport],
  optional: [ISidebar, ISettingRegistry, ITranslator],
  provides: ITelemetry,
  activate: (
    app: JupyterFrontEnd,
    transport: IKernelTransport,
    sidebar: ISidebar | null,
    settings: ISettingRegistry | null,
    translator: ITranslator | null
  ): ITelemetry => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    const telemetry = new TelemetryClient(transport);
    followSettings(
      app,
      settings,
      KERNEL_SETTINGS,
      { telemetryIntervalS: DEFAULT_INTERVAL_S },
      s => (telemetry.intervalS = s.telemetryIntervalS)
    );
    followSettings(app, settings, PANEL_SETTINGS, DEFAULT_CHART_SETTINGS, s => {
      telemetry.model.windowS = s.telemetryWindowS;
      telemetry.model.metrics = s.telemetryMetrics;
    });
    if (sidebar) {
      const section = new TelemetrySection(telemetry, chartLabels(trans));
      section.title.label = trans.__('Telemetry');
      section.id = 'yl-section-telemetry';
      sidebar.addSection(section, 20, SECTION_SIZES.telemetry);
    }
    return telemetry;
  }
};

/** Training runs followed through the kernel. */
const runsPlugin: JupyterFrontEndPlugin<IRuns> = {
  id: 'yolo-lab:runs',
  description: 'Live YOLOv5 training runs, followed through the kernel.',
  autoStart: true,
  requires: [IKernelTransport],
  provides: IRuns,
  activate: (_app: JupyterFrontEnd, transport: IKernelTransport): IRuns =>
    new RunsClient(transport)
};

/** Training: the form in the sidebar, its commands and toolbar buttons. */
const trainingPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:training',
  description: 'YOLOv5 training from the sidebar, the toolbar and the palette.',
  autoStart: true,
  requires: [IKernelTransport, IRuns, IEnvironment, INotebookTracker, ISidebar],
  optional: [
    ITelemetry,
    ICommandPalette,
    ITranslator,
    IDefaultFileBrowser,
    ISettingRegistry
  ],
  activate: (
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
  ): void => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    // With a kernel on another server, runs show in main-area views.
    const openView = async (display: IRunDisplay): Promise<void> => {
      const { RunView } = await import('./training/view');
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
      PANEL_SETTINGS,
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
};

/**
 * The renderer of `yolo_lab.monitor()` outputs. A plugin rather than a
 * mimeExtension so that the charts follow the metrics chosen in the settings.
 */
const inlineTelemetryPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:inline-telemetry',
  description:
    'Live telemetry charts in notebook outputs (yolo_lab.monitor()).',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ISettingRegistry, ITranslator, ITelemetry],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    settings: ISettingRegistry | null,
    translator: ITranslator | null,
    telemetry: ITelemetry | null
  ): void => {
    const labels = chartLabels((translator ?? nullTranslator).load('yolo_lab'));
    let metrics = DEFAULT_CHART_SETTINGS.telemetryMetrics;
    followSettings(app, settings, PANEL_SETTINGS, DEFAULT_CHART_SETTINGS, s => {
      metrics = s.telemetryMetrics;
    });
    rendermime.addFactory(
      {
        safe: true,
        mimeTypes: [TELEMETRY_MIME],
        defaultRank: 0,
        createRenderer: () =>
          new TelemetryOutput({
            metrics: () => metrics,
            check: () => loadDefinitionCheck('telemetry_display'),
            labels,
            telemetry
          })
      },
      0
    );
  }
};

/**
 * The renderer of training-run outputs (`yolo_lab.train(...)`): live charts
 * fed from the run folder through the runs client.
 */
const runOutputPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:run-output',
  description: 'Live YOLOv5 training views in notebook outputs.',
  autoStart: true,
  requires: [IRenderMimeRegistry, IRuns],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    runs: IRuns,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    rendermime.addFactory(
      {
        safe: true,
        mimeTypes: [RUN_MIME],
        defaultRank: 0,
        // The view and its figures load with the first run output.
        createRenderer: () =>
          new LazyRenderer(async () => {
            const { RunView } = await import('./training/view');
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
        createRenderer: () =>
          new AutotuneView({
            trans,
            check: () => loadDefinitionCheck('autotune_display'),
            applyForm: form =>
              void app.commands.execute(CommandIDs.applyFix, {
                form: form as ReadonlyPartialJSONObject
              })
          })
      },
      0
    );
  }
};

/**
 * The status bar item: the kernel's GPU (or CPU) use while telemetry flows,
 * the current notebook's running run's epoch and ETA; a click opens the panel.
 */
const statusPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:status',
  description:
    "The kernel's GPU use and the running run's epoch in the status bar.",
  autoStart: true,
  requires: [IStatusBar, IKernelTransport, IRuns, INotebookTracker],
  optional: [ITelemetry, ISidebar, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar,
    transport: IKernelTransport,
    runs: IRuns,
    tracker: INotebookTracker,
    telemetry: ITelemetry | null,
    sidebar: ISidebar | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    const model = new StatusModel({
      telemetry: telemetry?.model ?? null,
      watch: new RunWatch(runs.registry),
      notebooks: tracker,
      transport,
      detached: new DetachedCount({ list: () => fetchDetachedRuns() }),
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
};

/** Notices when a run the user is not looking at finishes, fails or stops. */
const noticesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:notices',
  description: 'Notifications when training runs finish, fail or stop.',
  autoStart: true,
  requires: [IRuns],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    runs: IRuns,
    translator: ITranslator | null
  ): void => {
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
};

/**
 * Under JupyterHub: the Class section (a teacher's view of every student's
 * server and training, and each user's GPU share), read from the server
 * extension, which asks the Hub with this server's own token.
 */
const classroomPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:classroom',
  description: "A class on JupyterHub: the teacher's view, the GPU share.",
  autoStart: true,
  requires: [ISidebar],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidebar: ISidebar,
    translator: ITranslator | null
  ): void => {
    if (!PageConfig.getOption('hubUser')) {
      return; // not a JupyterHub server: no class
    }
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    // Fetched only under JupyterHub: other pages never load it.
    void import('./classroom/plugin')
      .then(({ classSection }) => {
        const section = classSection(trans, app.shell);
        section.id = 'yl-section-class';
        sidebar.addSection(section, 40, SECTION_SIZES.classroom);
      })
      .catch(reason =>
        console.error('yolo-lab: the Class section did not load', reason)
      );
  }
};

export default [
  transportPlugin,
  sidebarPlugin,
  environmentPlugin,
  telemetryPlugin,
  runsPlugin,
  trainingPlugin,
  inlineTelemetryPlugin,
  runOutputPlugin,
  statusPlugin,
  noticesPlugin,
  classroomPlugin
];
