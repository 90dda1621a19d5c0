/**
 * yolo-lab plugins. This file only wires; the logic lives in the modules.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import {
  refreshIcon,
  SidePanel,
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

export { IKernelBridge } from './tokens';

namespace CommandIDs {
  export const checkEnvironment = 'yolo-lab:check-environment';
}

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
  requires: [IKernelBridge],
  optional: [ILayoutRestorer, ICommandPalette, ITranslator, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    bridge: IKernelBridge,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    registry: ISettingRegistry | null
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
    const environment = new EnvironmentView(bridge.model, translator);
    environment.title.label = trans.__('GPU environment');
    panel.content.addWidget(environment);
    const telemetry = new TelemetrySection(bridge, chartLabels(trans));
    telemetry.title.label = trans.__('Telemetry');
    panel.content.addWidget(telemetry);
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
    let check: Promise<ISchemaCheck> | null = null;
    const displayCheck = (): Promise<ISchemaCheck> =>
      (check ??= loadDefinitionCheck('telemetry_display'));
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

export default [bridgePlugin, panelPlugin, inlineTelemetryPlugin];
