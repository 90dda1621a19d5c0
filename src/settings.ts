/**
 * Settings that several plugins read: load once JupyterLab is restored,
 * apply, and apply again on every change.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';

/** The plugin whose settings (schema/bridge.json) hold the kernel options. */
export const KERNEL_SETTINGS = 'yolo-lab:bridge';
/** The plugin whose settings (schema/panel.json) hold the chart options. */
export const PANEL_SETTINGS = 'yolo-lab:panel';

/**
 * Call `apply` with the settings' values merged over `defaults`, now and on
 * every change. Without a registry nothing happens (the defaults stand).
 */
export function followSettings<T extends object>(
  app: JupyterFrontEnd,
  registry: ISettingRegistry | null,
  plugin: string,
  defaults: T,
  apply: (values: T) => void
): void {
  if (!registry) {
    return;
  }
  void Promise.all([app.restored, registry.load(plugin)])
    .then(([, settings]) => {
      const update = (): void =>
        apply({ ...defaults, ...(settings.composite as Partial<T>) });
      update();
      settings.changed.connect(update);
    })
    .catch(reason =>
      console.error(
        `yolo-lab: could not load the settings of ${plugin}.`,
        reason
      )
    );
}
