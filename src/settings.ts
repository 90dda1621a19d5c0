/**
 * Settings that several plugins read: load once JupyterLab is restored,
 * apply, and apply again on every change.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { PartialJSONValue } from '@lumino/coreutils';

/**
 * The transport's and the sidebar's plugin ids: their settings once held
 * the kernel and chart options (now moved, see MOVED_SETTINGS); the sidebar's
 * still holds the notebook toolbar's buttons.
 */
export const TRANSPORT_PLUGIN = 'yolo-lab:bridge';
export const SIDEBAR_PLUGIN = 'yolo-lab:panel';

/** Each feature's settings, under its own plugin (schema/<name>.json). */
export const ENVIRONMENT_SETTINGS = 'yolo-lab:environment';
export const TELEMETRY_SETTINGS = 'yolo-lab:telemetry';
export const TRAINING_SETTINGS = 'yolo-lab:training';

/**
 * Settings that lived under an older plugin id (its schema keeps them,
 * marked as moved): a value a user set there is moved to the new plugin
 * once, unless the new one has a value of its own, then removed there.
 */
export const MOVED_SETTINGS: ReadonlyArray<{
  key: string;
  from: string;
  to: string;
}> = [
  { key: 'checkOnConnect', from: TRANSPORT_PLUGIN, to: ENVIRONMENT_SETTINGS },
  { key: 'workers', from: TRANSPORT_PLUGIN, to: ENVIRONMENT_SETTINGS },
  { key: 'telemetryIntervalS', from: TRANSPORT_PLUGIN, to: TELEMETRY_SETTINGS },
  { key: 'telemetryWindowS', from: SIDEBAR_PLUGIN, to: TELEMETRY_SETTINGS },
  { key: 'telemetryMetrics', from: SIDEBAR_PLUGIN, to: TELEMETRY_SETTINGS },
  { key: 'autotuneBudgetS', from: SIDEBAR_PLUGIN, to: TRAINING_SETTINGS }
];

const migrations = new WeakMap<ISettingRegistry, Map<string, Promise<void>>>();

/**
 * Move the settings of `plugin` a user set under their old plugin id
 * (MOVED_SETTINGS); once per registry and plugin, however many callers ask.
 */
export function migrateSettings(
  registry: ISettingRegistry,
  plugin: string
): Promise<void> {
  const done = migrations.get(registry) ?? new Map<string, Promise<void>>();
  migrations.set(registry, done);
  let migration = done.get(plugin);
  if (!migration) {
    migration = moveSettings(registry, plugin);
    done.set(plugin, migration);
  }
  return migration;
}

async function moveSettings(
  registry: ISettingRegistry,
  plugin: string
): Promise<void> {
  const moves = MOVED_SETTINGS.filter(m => m.to === plugin);
  for (const from of new Set(moves.map(m => m.from))) {
    const [old, now] = await Promise.all([
      registry.load(from),
      registry.load(plugin)
    ]);
    for (const { key } of moves.filter(m => m.from === from)) {
      const value = old.user[key];
      if (value === undefined) {
        continue;
      }
      if (now.user[key] === undefined) {
        await now.set(key, value as PartialJSONValue);
      }
      await old.remove(key);
    }
  }
}

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
  void Promise.all([
    app.restored,
    migrateSettings(registry, plugin).catch(reason =>
      console.warn(
        `yolo-lab: could not move the older settings of ${plugin}.`,
        reason
      )
    )
  ])
    .then(() => registry.load(plugin))
    .then(settings => {
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
