/**
 * yolo-lab plugins. This file only wires: each plugin names what it needs
 * and what it provides; its body lives in its feature's folder.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IStateDB } from '@jupyterlab/statedb';
import { IDefaultFileBrowser } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { activateEnvironment } from './environment/plugin';
import { IEnvironment } from './environment/tokens';
import { SIDEBAR_PLUGIN, TRANSPORT_PLUGIN } from './settings';
import {
  ISidebar,
  rememberSections,
  SECTION_SIZES,
  Sidebar,
  SIDEBAR_ID
} from './sidebar';
import { activateNotices, activateStatus } from './status/plugin';
import { TargetSection } from './target';
import { activateInlineTelemetry, activateTelemetry } from './telemetry/plugin';
import { ITelemetry } from './telemetry/tokens';
import { IKernelTransport } from './tokens';
import { activateRunOutput, activateTraining } from './training/plugin';
import { RunsClient } from './training/runs';
import { IRuns } from './training/tokens';
import { KernelTransport, notebookSource } from './transport';

export { IKernelTransport } from './tokens';
export { IEnvironment } from './environment/tokens';
export { ITelemetry } from './telemetry/tokens';
export { IRuns } from './training/tokens';
export { ISidebar } from './sidebar';

// Webpack keeps only the `version` field of package.json in the bundle.
declare const require: (id: string) => unknown;
const { version: VERSION } = require('../package.json') as { version: string };

/**
 * The transport: follows the active notebook's kernel (or a remote one)
 * over the `yolo_lab` comm. Its id keeps the users' kernel settings.
 */
const transportPlugin: JupyterFrontEndPlugin<IKernelTransport> = {
  id: TRANSPORT_PLUGIN,
  description: 'Connects yolo-lab to the kernel of the active notebook.',
  autoStart: true,
  requires: [INotebookTracker],
  provides: IKernelTransport,
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) =>
    new KernelTransport(notebookSource(tracker), VERSION)
};

/** The sidebar, with the kernel target picker at its top. */
const sidebarPlugin: JupyterFrontEndPlugin<ISidebar> = {
  id: SIDEBAR_PLUGIN,
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
    const target = new TargetSection(
      transport,
      app.serviceManager.serverSettings,
      trans
    );
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
  activate: activateEnvironment
};

/** Live telemetry of the kernel, and its sidebar chart. */
const telemetryPlugin: JupyterFrontEndPlugin<ITelemetry> = {
  id: 'yolo-lab:telemetry',
  description: 'Live GPU (or CPU) telemetry of the kernel.',
  autoStart: true,
  requires: [IKernelTransport],
  optional: [ISidebar, ISettingRegistry, ITranslator],
  provides: ITelemetry,
  activate: activateTelemetry
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
  activate: activateTraining
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
  activate: activateInlineTelemetry
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
  activate: activateRunOutput
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
  activate: activateStatus
};

/** Notices when a run the user is not looking at finishes, fails or stops. */
const noticesPlugin: JupyterFrontEndPlugin<void> = {
  id: 'yolo-lab:notices',
  description: 'Notifications when training runs finish, fail or stop.',
  autoStart: true,
  requires: [IRuns],
  optional: [ITranslator],
  activate: activateNotices
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
        const section = classSection(
          trans,
          app.shell,
          app.serviceManager.serverSettings
        );
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
