/**
 * The renderer of `yolo_lab.monitor()` outputs (MIME type
 * application/vnd.yolo-lab.telemetry+json).
 *
 * The kernel updates the output in place (update_display_data) with the
 * samples of the window, so the notebook file always holds the last data: a
 * notebook opened again without a kernel shows it as a static chart.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { PanelLayout, Widget } from '@lumino/widgets';
import type { ISchemaCheck } from '../protocol';
import { IChartLabels, TelemetryChart } from './chart';
import { TelemetryModel } from './model';
import { ITelemetryDisplay, TELEMETRY_MIME } from './types';

/** Options of the inline telemetry renderer. */
export interface ITelemetryOutputOptions {
  /** Metric ids shown, from the settings. */
  metrics: () => string[];
  /**
   * The check of definitions/telemetry_display, shared by every output of
   * the page so the schema is compiled once, not once per output.
   */
  check: () => Promise<ISchemaCheck>;
  labels?: IChartLabels;
}

/**
 * Renders a monitor output as a live (or, once saved, static) chart.
 */
export class TelemetryOutput extends Widget implements IRenderMime.IRenderer {
  constructor(options: ITelemetryOutputOptions) {
    super();
    this.addClass('yl-TelemetryOutput');
    this.layout = new PanelLayout();
    this._options = options;
    this._model = new TelemetryModel({ metrics: options.metrics() });
  }

  /** The model behind the chart. */
  get model(): TelemetryModel {
    return this._model;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[TELEMETRY_MIME];
    const check = await this._options.check();
    if (!check(data)) {
      const details = (check.errors ?? [])
        .map(e => `${e.instancePath || '/'} ${e.message ?? ''}`)
        .join('; ');
      this._showProblem(
        'This yolo-lab monitor output cannot be shown: it does not match ' +
          `the protocol schema (${details}). Re-run the cell with the same ` +
          'yolo-lab version in the kernel and in JupyterLab.'
      );
      return;
    }
    this._model.setDisplay(data as unknown as ITelemetryDisplay);
    if (!this._chart) {
      this._chart = new TelemetryChart(this._model, this._options.labels);
      (this.layout as PanelLayout).addWidget(this._chart);
    }
    this.node.dataset.live = String(this._model.live);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.dispose();
    super.dispose();
  }

  private _showProblem(text: string): void {
    console.warn(`yolo-lab: ${text}`);
    const p = document.createElement('p');
    p.className = 'yl-OutputProblem';
    p.textContent = text;
    this.node.replaceChildren(p);
  }

  private _options: ITelemetryOutputOptions;
  private _model: TelemetryModel;
  private _chart: TelemetryChart | null = null;
}
