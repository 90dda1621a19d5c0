/**
 * yolo-lab plugins. This file only wires; the logic lives in the modules.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  refreshIcon,
  runIcon,
  SidePanel,
  stopIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import {
  DEFAULT_BRIDGE_SETTINGS,
  IBridgeSettings,
  KernelBridge
} from './bridge';
import { Widget } from '@lumino/widgets';
import { yoloLabIcon } from './icons';
import { EnvironmentView } from './panel';
import { ISchemaCheck, loadDefinitionCheck } from './protocol';
import { DEFAULT_CHART_LABELS, IChartLabels } from './telemetry/chart';
import { DEFAULT_METRICS } from './telemetry/metrics';
import { DEFAULT_WINDOW_S } from './telemetry/model';
import { TelemetryOutput } from './telemetry/output';
import { TelemetrySection } from './telemetry/section';
import { TELEMETRY_MIME } from './telemetry/types';
import { IKernelBridge } from './tokens';
import { insertCell, resumeCellText, showRunCellText } from './training/cells';
import { cellText, formFromMetadata, ITrainForm } from './training/form';
import { TrainSection } from './training/section';
import { IRunDisplay, RUN_MIME } from './training/types';
import { TargetSection } from './target';
import { RunView } from './training/view';

export { IKernelBridge } from './tokens';

namespace CommandIDs {
  export const checkEnvironment = 'yolo-lab:check-environment';
  export const insertTrainingCell = 'yolo-lab:insert-training-cell';
  export const train = 'yolo-lab:train';
  export const stopTraining = 'yolo-lab:stop-training';
  export const resumeRun = 'yolo-lab:resume-run';
  export const openRun = 'yolo-lab:open-run';
}

/** Where a notebook keeps its training form. */
const METADATA_KEY = 'yolo-lab';

// Webpack keeps only the `version` field of package.json in the bundle.
declare const require: (id: string) => unknown;
const { version: VERSION } = require('../package.json') as { version: string };

const BRIDGE_PLUGIN = 'yolo-lab:bridge';
const PANEL_PLUGIN = 'yolo-lab:panel';

/** Chart settings of schema/panel.json. */
interface IChartSettings {
  telemetryWindowS: number;
  telemetryMetrics: string[];
}

const DEFAULT_CHART_SETTINGS: IChartSettings = {
  telemetryWindowS: DEFAULT_WINDOW_S,
  telemetryMetrics: DEFAULT_METRICS
};

/** Chart labels in the user's language. */
function chartLabels(trans: ReturnType<ITranslator['load']>): IChartLabels {
  const labels = { ...DEFAULT_CHART_LABELS };
  for (const key of Object.keys(labels) as Array<keyof IChartLabels>) {
    labels[key] = trans.__(labels[key]);
  }
  return labels;
}
const PANEL_ID = 'yolo-lab-panel';

/**
 * The kernel bridge: follows the active notebook's kernel over the
 * `yolo_lab` comm.
 */
const bridgePlugin: JupyterFrontEndPlugin<IKernelBridge> = {
  id: BRIDGE_PLUGIN,
  description: 'Connects yolo-lab to the kernel of the active notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  provides: IKernelBridge,
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null
  ): IKernelBridge => {
    const bridge = new KernelBridge(tracker, VERSION);
    if (registry) {
      void Promise.all([app.restored, registry.load(BRIDGE_PLUGIN)])
        .then(([, settings]) => {
          const apply = (): void =>
            bridge.configure({
              ...DEFAULT_BRIDGE_SETTINGS,
              ...(settings.composite as Partial<IBridgeSettings>)
            });
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.error('yolo-lab: could not load the bridge settings.', reason)
        );
    }
    return bridge;
  }
};

/**
 * The sidebar panel, the "Check GPU environment" command and its
 * notebook toolbar button (declared in schema/panel.json).
 */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: PANEL_PLUGIN,
  description: 'The yolo-lab sidebar: GPU environment of the notebook kernel.',
  autoStart: true,
  requires: [IKernelBridge, INotebookTracker],
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ITranslator,
    ISettingRegistry,
    IDefaultFileBrowser
  ],
  activate: (
    app: JupyterFrontEnd,
    bridge: IKernelBridge,
    tracker: INotebookTracker,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    registry: ISettingRegistry | null,
    browser: IDefaultFileBrowser | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('yolo_lab');
    const panel = new SidePanel({ translator: translator ?? nullTranslator });
    panel.id = PANEL_ID;
    panel.title.icon = yoloLabIcon;
    panel.title.caption = trans.__('yolo-lab: GPU environment');
    panel.node.setAttribute('aria-label', trans.__('yolo-lab panel'));
    panel.addClass('yl-Panel');
    const heading = document.createElement('h2');
    heading.className = 'yl-Panel-title';
    heading.textContent = trans.__('yolo-lab');
    panel.header.addWidget(new Widget({ node: heading }));
    const target = new TargetSection(bridge);
    target.title.label = trans.__('Kernel');
    panel.content.addWidget(target);
    const environment = new EnvironmentView(bridge.model, translator);
    environment.title.label = trans.__('GPU environment');
    panel.content.addWidget(environment);
    const telemetry = new TelemetrySection(bridge, chartLabels(trans));
    telemetry.title.label = trans.__('Telemetry');
    panel.content.addWidget(telemetry);

    // Training: the form lives in the current notebook's metadata.
    const metadataOf = (): Record<string, unknown> | null => {
      const model = tracker.currentWidget?.model;
      if (!model) {
        return null;
      }
      const value = model.getMetadata(METADATA_KEY);
      return typeof value === 'object' && value !== null
        ? (value as Record<string, unknown>)
        : {};
    };
    // With a kernel on another server, runs show in main-area views (the
    // notebook's cells run in the notebook's own kernel).
    const openRunView = (display: IRunDisplay): void => {
      const view = new RunView({
        bridge,
        check: () => loadDefinitionCheck('run_display'),
        resume: async run => {
          await runInServer(resumeCellText(run));
        }
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
    const runInServer = async (code: string): Promise<void> => {
      const future = bridge.execute(code);
      let display: IRunDisplay | null = null;
      let error: string | null = null;
      future.onIOPub = msg => {
        const type = msg.header.msg_type;
        const content = msg.content as {
          data?: Record<string, unknown>;
          ename?: string;
          evalue?: string;
        };
        if (type === 'execute_result' || type === 'display_data') {
          const data = content.data?.[RUN_MIME];
          if (data) {
            display = data as IRunDisplay;
          }
        } else if (type === 'error') {
          error = `${content.ename}: ${content.evalue}`;
        }
      };
      await future.done;
      if (error) {
        throw new Error(error);
      }
      if (display) {
        openRunView(display);
      }
    };
    const onServer = (): boolean => bridge.target.kind === 'server';
    const section = new TrainSection(bridge, {
      load: () => {
        const meta = metadataOf();
        return meta === null ? null : formFromMetadata(meta.train);
      },
      save: (form: ITrainForm) => {
        const model = tracker.currentWidget?.model;
        if (model) {
          model.setMetadata(METADATA_KEY, {
            ...(metadataOf() ?? {}),
            train: { ...form }
          });
        }
      },
      insertCell: async (form, run) => {
        if (!onServer()) {
          return insertCell(tracker, cellText(form), run);
        }
        if (!run) {
          throw new Error(
            "The kernel is on a Jupyter server: Train runs it there; a notebook cell would run in the notebook's kernel."
          );
        }
        await runInServer(cellText(form));
      },
      stop: () =>
        app.commands.execute(CommandIDs.stopTraining) as Promise<void>,
      openRun: async run => {
        if (!onServer()) {
          return insertCell(tracker, showRunCellText(run), true);
        }
        const name = run.split('/').filter(Boolean).pop() ?? run;
        openRunView({ v: 1, run, name, status: 'unknown' });
      },
      selectedFile: () => {
        const item = browser?.selectedItems().next();
        return item && !item.done ? item.value.path : null;
      }
    });
    section.title.label = trans.__('Training');
    panel.content.addWidget(section);
    bridge.targetChanged.connect(() => void section.refreshRuns());
    // A restored notebook is current before its file is read: read its
    // saved form once the content is there.
    tracker.currentChanged.connect((_, current) => {
      section.reload();
      void current?.context.ready.then(() => {
        if (tracker.currentWidget === current) {
          section.reload();
        }
      });
    });

    app.commands.addCommand(CommandIDs.insertTrainingCell, {
      label: trans.__('Insert training cell'),
      caption: trans.__(
        'Write a train(...) cell from the yolo-lab panel settings below the active cell'
      ),
      execute: () => insertCell(tracker, cellText(section.form), false)
    });
    app.commands.addCommand(CommandIDs.train, {
      label: trans.__('Train'),
      caption: trans.__(
        'Train YOLOv5: write the training cell from the yolo-lab panel settings and run it'
      ),
      icon: runIcon,
      isEnabled: () => tracker.currentWidget !== null || onServer(),
      execute: async () => {
        app.shell.activateById(panel.id);
        if (onServer()) {
          await runInServer(cellText(section.form));
        } else {
          await insertCell(tracker, cellText(section.form), true);
        }
      }
    });
    app.commands.addCommand(CommandIDs.stopTraining, {
      label: trans.__('Stop training'),
      caption: trans.__(
        'Stop the running training after its current batch (last.pt is saved)'
      ),
      icon: stopIcon,
      execute: async () => {
        // The runs shown in the current notebook (in server mode, every
        // run the bridge's views follow).
        const active = new Set(bridge.activeRuns());
        const notebook = tracker.currentWidget;
        const runs =
          onServer() || !notebook
            ? [...active]
            : [
                ...new Set(
                  Array.from(
                    notebook.node.querySelectorAll<HTMLElement>(
                      '.yl-RunView[data-run]'
                    )
                  ).map(node => node.dataset.run as string)
                )
              ].filter(run => active.has(run));
        if (!runs.length) {
          throw new Error('No training of this notebook is running.');
        }
        await Promise.all(runs.map(run => bridge.stopRun(run)));
      }
    });
    app.commands.addCommand(CommandIDs.resumeRun, {
      label: trans.__('Resume training run'),
      execute: args =>
        insertCell(tracker, resumeCellText(String(args.run)), true)
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: trans.__('Show training run'),
      execute: args =>
        insertCell(tracker, showRunCellText(String(args.run)), true)
    });
    for (const command of [
      CommandIDs.insertTrainingCell,
      CommandIDs.train,
      CommandIDs.stopTraining
    ]) {
      palette?.addItem({ command, category: trans.__('yolo-lab') });
    }
    if (registry) {
      void Promise.all([app.restored, registry.load(PANEL_PLUGIN)])
        .then(([, settings]) => {
          const apply = (): void => {
            const chart = {
              ...DEFAULT_CHART_SETTINGS,
              ...(settings.composite as Partial<IChartSettings>)
            };
            bridge.telemetry.windowS = chart.telemetryWindowS;
            bridge.telemetry.metrics = chart.telemetryMetrics;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.error('yolo-lab: could not load the panel settings.', reason)
        );
    }
    panel.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Check the environment again'),
        onClick: () => void bridge.checkEnvironment()
      })
    );
    app.shell.add(panel, 'right', { rank: 600 });
    restorer?.add(panel, PANEL_ID);

    app.commands.addCommand(CommandIDs.checkEnvironment, {
      label: trans.__('Check GPU environment'),
      caption: trans.__(
        'Check GPU environment: what the kernel sees (GPUs, driver, CUDA, torch, shared memory, YOLOv5)'
      ),
      icon: yoloLabIcon,
      execute: async () => {
        app.shell.activateById(panel.id);
        await bridge.checkEnvironment();
      }
    });
    palette?.addItem({
      command: CommandIDs.checkEnvironment,
      category: trans.__('yolo-lab')
    });
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
  optional: [ISettingRegistry, ITranslator],
  activate: (
    _app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    registry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    const labels = chartLabels((translator ?? nullTranslator).load('yolo_lab'));
    let metrics = DEFAULT_CHART_SETTINGS.telemetryMetrics;
    const displayCheck = (): Promise<ISchemaCheck> =>
      loadDefinitionCheck('telemetry_display');
    rendermime.addFactory(
      {
        safe: true,
        mimeTypes: [TELEMETRY_MIME],
        defaultRank: 0,
        createRenderer: () =>
          new TelemetryOutput({
            metrics: () => metrics,
            check: displayCheck,
            labels
          })
      },
      0
    );
    if (registry) {
      void registry
        .load(PANEL_PLUGIN)
        .then(settings => {
          const apply = (): void => {
            metrics =
              (settings.composite as Partial<IChartSettings>)
                .telemetryMetrics ?? metrics;
          };
          apply();
          settings.changed.connect(apply);
        })
        .catch(reason =>
          console.error('yolo-lab: could not load the chart settings.', reason)
        );
    }
  }
};

/**
 * The renderer of training-run outputs (`yolo_lab.train(...)`): live charts
 * fed through the kernel bridge from the run folder.
 */
const runOutputPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:run-output',
  description: 'Live YOLOv5 training views in notebook outputs.',
  autoStart: true,
  requires: [IRenderMimeRegistry, IKernelBridge],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    bridge: IKernelBridge
  ): void => {
    const displayCheck = (): Promise<ISchemaCheck> =>
      loadDefinitionCheck('run_display');
    rendermime.addFactory(
      {
        safe: true,
        mimeTypes: [RUN_MIME],
        defaultRank: 0,
        createRenderer: () =>
          new RunView({
            bridge,
            check: displayCheck,
            resume: async run => {
              await app.commands.execute(CommandIDs.resumeRun, { run });
            }
          })
      },
      0
    );
  }
};

export default [
  bridgePlugin,
  panelPlugin,
  inlineTelemetryPlugin,
  runOutputPlugin
];
