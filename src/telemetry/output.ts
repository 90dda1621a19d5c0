/**
 * The renderer of `yolo_lab.monitor()` outputs (MIME type
 * application/vnd.yolo-lab.telemetry+json).
 *
 * Live points come from the kernel's telemetry stream (the comm the panel
 * uses, which carries only new samples), matched by sampler id, while the
 * output's data says it is live. The kernel rewrites the output's data with
 * the whole window only now and then (and on stop), so the notebook file
 * holds a recent window: opened again without a kernel, it shows a static
 * chart.
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { PanelLayout, Widget } from '@lumino/widgets';
import type { IDisposable } from '@lumino/disposable';
import type { ISchemaCheck } from '../protocol';
import { IChartLabels, TelemetryChart } from './chart';
import { TelemetryModel } from './model';
import type { ITelemetry } from './tokens';
import { ITelemetryBatch, ITelemetryDisplay, TELEMETRY_MIME } from './types';

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
  /**
   * The telemetry stream of the kernel yolo-lab follows; without it (or
   * while it follows another kernel) the chart moves with the output's data.
   */
  telemetry?: ITelemetry | null;
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
    const display = data as unknown as ITelemetryDisplay;
    this._samplerId = display.sampler_id;
    this._model.setDisplay(display);
    this._follow(display.live);
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
    this._follow(false);
    this._model.dispose();
    super.dispose();
  }

  /** Take the kernel's stream while the output is live, not after. */
  private _follow(live: boolean): void {
    const telemetry = this._options.telemetry;
    if (!telemetry || live === (this._listening !== null)) {
      return;
    }
    if (live) {
      this._listening = telemetry.listen({ passive: true });
      telemetry.batchReceived.connect(this._onBatch, this);
    } else {
      telemetry.batchReceived.disconnect(this._onBatch, this);
      this._listening?.dispose();
      this._listening = null;
    }
  }

  private _onBatch(_: ITelemetry, batch: ITelemetryBatch): void {
    // Another kernel's sampler, or this kernel's after a restart: not ours.
    if (batch.sampler_id === this._samplerId) {
      this._model.addBatch(batch);
    }
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
  private _samplerId: string | null = null;
  private _listening: IDisposable | null = null;
}
