/**
 * The environment doctor's plugin body, as index.ts wires it: the client,
 * its settings, its notices, its sidebar section, button and command.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { type ICommandPalette, Notification } from '@jupyterlab/apputils';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { type ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { yoloLabIcon } from '../icons';
import { ENVIRONMENT_SETTINGS, followSettings } from '../settings';
import { type ISidebar, SECTION_SIZES } from '../sidebar';
import type { IKernelTransport } from '../tokens';
import { DEFAULT_ENVIRONMENT_SETTINGS, EnvironmentClient } from './client';
import { DoctorNotices } from './notice';
import type { IEnvironment } from './tokens';
import { EnvironmentView } from './view';

const CHECK_ENVIRONMENT = 'yolo-lab:check-environment';

/** The doctor: its sidebar section, command and button. */
export function activateEnvironment(
  app: JupyterFrontEnd,
  transport: IKernelTransport,
  sidebar: ISidebar,
  palette: ICommandPalette | null,
  translator: ITranslator | null,
  settings: ISettingRegistry | null
): IEnvironment {
  const trans = (translator ?? nullTranslator).load('yolo_lab');
  const environment = new EnvironmentClient(transport);
  followSettings(
    app,
    settings,
    ENVIRONMENT_SETTINGS,
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
