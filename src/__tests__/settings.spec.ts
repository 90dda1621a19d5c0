/**
 * Each feature's settings under its own plugin, and the values a user saved
 * under the old ids (yolo-lab:bridge, yolo-lab:panel) carried over: a real
 * SettingRegistry reading the real schemas from schema/, its settings files
 * kept in memory as the server keeps them (raw JSON5 text per plugin).
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { ISettingRegistry, SettingRegistry } from '@jupyterlab/settingregistry';
import { DataConnector } from '@jupyterlab/statedb';
import * as fs from 'fs';
import JSON5 from 'json5';
import * as path from 'path';
import {
  ENVIRONMENT_SETTINGS,
  followSettings,
  MOVED_SETTINGS,
  SIDEBAR_PLUGIN,
  TELEMETRY_SETTINGS,
  TRAINING_SETTINGS,
  TRANSPORT_PLUGIN
} from '../settings';
import { ROOT } from './fixtures';

/** The schema of a plugin id, read from schema/<name>.json. */
function schema(id: string): ISettingRegistry.ISchema {
  const file = path.join(ROOT, 'schema', `${id.split(':')[1]}.json`);
  return JSON.parse(fs.readFileSync(file, 'utf-8')) as ISettingRegistry.ISchema;
}

/** The server's settings files: raw text per plugin id, saved back on set. */
class Files extends DataConnector<ISettingRegistry.IPlugin, string> {
  constructor(readonly raw: Record<string, string>) {
    super();
  }
  async fetch(id: string): Promise<ISettingRegistry.IPlugin> {
    return {
      id,
      schema: schema(id),
      raw: this.raw[id] ?? '{}',
      data: { composite: {}, user: {} },
      version: 'test'
    };
  }
  async save(id: string, raw: string): Promise<void> {
    this.raw[id] = raw;
  }
}

const app = { restored: Promise.resolve() } as unknown as JupyterFrontEnd;

/** The values `followSettings` applies for `plugin`, once they are there. */
function followed<T extends object>(
  registry: ISettingRegistry,
  plugin: string,
  defaults: T,
  until: (values: T) => boolean
): Promise<T> {
  return new Promise(done =>
    followSettings(app, registry, plugin, defaults, values => {
      if (until(values)) {
        done(values);
      }
    })
  );
}

describe('the settings of each feature', () => {
  it('each moved setting is in its new schema and marked as moved in the old one', () => {
    for (const { key, from, to } of MOVED_SETTINGS) {
      expect(schema(to).properties?.[key]).toBeDefined();
      expect(schema(from).properties?.[key]?.description).toMatch(/^Moved to/);
    }
    expect(schema(TRANSPORT_PLUGIN)['jupyter.lab.setting-deprecated']).toBe(
      true
    );
    // The sidebar keeps the notebook toolbar's buttons.
    expect(schema(SIDEBAR_PLUGIN)['jupyter.lab.toolbars']).toBeDefined();
  });

  it("carries a user's values over from the old ids once, and keeps a value set under the new id", async () => {
    const files = new Files({
      [TRANSPORT_PLUGIN]:
        '{\n  // set before the settings moved\n  "checkOnConnect": false,\n  "workers": 2,\n  "telemetryIntervalS": 0.5\n}',
      [SIDEBAR_PLUGIN]: '{ "telemetryWindowS": 60, "autotuneBudgetS": 75 }',
      // The user already chose a window under the new id: it stays.
      [TELEMETRY_SETTINGS]: '{ "telemetryWindowS": 600 }'
    });
    const registry = new SettingRegistry({ connector: files });
    const environment = await followed(
      registry,
      ENVIRONMENT_SETTINGS,
      { checkOnConnect: true, workers: 8 },
      v => v.workers === 2
    );
    expect(environment).toEqual({ checkOnConnect: false, workers: 2 });
    const telemetry = await followed(
      registry,
      TELEMETRY_SETTINGS,
      { telemetryIntervalS: 1, telemetryWindowS: 300 },
      v => v.telemetryIntervalS === 0.5
    );
    expect(telemetry).toMatchObject({
      telemetryIntervalS: 0.5,
      telemetryWindowS: 600
    });
    const training = await followed(
      registry,
      TRAINING_SETTINGS,
      { autotuneBudgetS: 120 },
      v => v.autotuneBudgetS === 75
    );
    expect(training.autotuneBudgetS).toBe(75);

    // Saved under the new ids, gone from the old ones.
    expect(JSON5.parse(files.raw[ENVIRONMENT_SETTINGS])).toEqual({
      checkOnConnect: false,
      workers: 2
    });
    expect((await registry.load(TRANSPORT_PLUGIN)).user).toEqual({});
    expect((await registry.load(SIDEBAR_PLUGIN)).user).toEqual({});
    expect(JSON5.parse(files.raw[TELEMETRY_SETTINGS])).toMatchObject({
      telemetryWindowS: 600,
      telemetryIntervalS: 0.5
    });
  });
});
