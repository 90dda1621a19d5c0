/**
 * The telemetry plugins' bodies, as index.ts wires them: the client with its
 * settings and sidebar chart, and the renderer of `yolo_lab.monitor()`
 * outputs.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import { type ITranslator, nullTranslator } from '@jupyterlab/translation';
import { loadDefinitionCheck } from '../protocol';
import { followSettings, TELEMETRY_SETTINGS } from '../settings';
import { type ISidebar, SECTION_SIZES } from '../sidebar';
import type { IKernelTransport } from '../tokens';
import { DEFAULT_INTERVAL_S, TelemetryClient } from './client';
import { chartLabels } from './labels';
import { DEFAULT_METRICS } from './metrics';
import { DEFAULT_WINDOW_S } from './model';
import { TelemetryOutput } from './output';
import { TelemetrySection } from './section';
import type { ITelemetry } from './tokens';
import { TELEMETRY_MIME } from './types';

/** Chart settings of schema/panel.json. */
const DEFAULT_CHART_SETTINGS = {
  telemetryWindowS: DEFAULT_WINDOW_S,
  telemetryMetrics: DEFAULT_METRICS
};

/** Live telemetry of the kernel, and its sidebar chart. */
export function activateTelemetry(
  app: JupyterFrontEnd,
  transport: IKernelTransport,
  sidebar: ISidebar | null,
  settings: ISettingRegistry | null,
  translator: ITranslator | null
): ITelemetry {
  const trans = (translator ?? nullTranslator).load('yolo_lab');
  const telemetry = new TelemetryClient(transport);
  followSettings(
    app,
    settings,
    TELEMETRY_SETTINGS,
    { telemetryIntervalS: DEFAULT_INTERVAL_S },
    s => (telemetry.intervalS = s.telemetryIntervalS)
  );
  followSettings(
    app,
    settings,
    TELEMETRY_SETTINGS,
    DEFAULT_CHART_SETTINGS,
    s => {
      telemetry.model.windowS = s.telemetryWindowS;
      telemetry.model.metrics = s.telemetryMetrics;
    }
  );
  if (sidebar) {
    const section = new TelemetrySection(telemetry, chartLabels(trans));
    section.title.label = trans.__('Telemetry');
    section.id = 'yl-section-telemetry';
    sidebar.addSection(section, 20, SECTION_SIZES.telemetry);
  }
  return telemetry;
}

/**
 * The renderer of `yolo_lab.monitor()` outputs, with the metrics chosen in
 * the settings.
 */
export function activateInlineTelemetry(
  app: JupyterFrontEnd,
  rendermime: IRenderMimeRegistry,
  settings: ISettingRegistry | null,
  translator: ITranslator | null,
  telemetry: ITelemetry | null
): void {
  const labels = chartLabels((translator ?? nullTranslator).load('yolo_lab'));
  let metrics = DEFAULT_CHART_SETTINGS.telemetryMetrics;
  followSettings(
    app,
    settings,
    TELEMETRY_SETTINGS,
    DEFAULT_CHART_SETTINGS,
    s => {
      metrics = s.telemetryMetrics;
    }
  );
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
