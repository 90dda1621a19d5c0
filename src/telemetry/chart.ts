/**
 * A live telemetry chart: the chosen series of a telemetry model over a moving
 * window (charts/ draws it: plotly loaded on the first chart shown, theme,
 * line-only updates between redraws), with pause and exports.
 */
import { Widget } from '@lumino/widgets';
import { download, PlotlyChart, stamp } from '../charts/chart';
import { telemetryFigure } from './figure';
import type { TelemetryChange, TelemetryModel } from './model';

/** Labels the chart shows, for translation. */
export interface IChartLabels {
  pause: string;
  resume: string;
  exportCsv: string;
  exportPng: string;
  waiting: string;
  paused: string;
  cpuView: string;
  gpuView: string;
  saved: string;
}

/** English labels. */
export const DEFAULT_CHART_LABELS: IChartLabels = {
  pause: 'Pause',
  resume: 'Resume',
  exportCsv: 'Export CSV',
  exportPng: 'Export PNG',
  waiting: 'Waiting for samples…',
  paused: 'paused',
  cpuView: 'CPU view (no GPU visible to the kernel)',
  gpuView: 'GPU view (NVML)',
  saved: 'saved output: the monitor has stopped'
};

/**
 * Name of the performance measure taken for each draw (`detail.draw`:
 * `'plotly'` or `'lines'`).
 */
export const CHART_UPDATE_MEASURE = 'yolo-lab:chart-update';

/**
 * A chart of one telemetry model.
 */
export class TelemetryChart extends Widget {
  constructor(
    model: TelemetryModel,
    labels: IChartLabels = DEFAULT_CHART_LABELS
  ) {
    super();
    this.addClass('yl-TelemetryChart');
    this._model = model;
    this._labels = labels;

    const bar = document.createElement('div');
    bar.className = 'yl-ChartBar';
    this._status = document.createElement('span');
    this._status.className = 'yl-ChartStatus';
    this._pause = this._button(labels.pause, () => {
      this._model.paused = !this._model.paused;
    });
    this._pause.setAttribute('aria-pressed', 'false');
    const csv = this._button(labels.exportCsv, () => this.exportCSV());
    const png = this._button(labels.exportPng, () => void this.exportPNG());
    bar.append(this._status, this._pause, csv, png);

    this._chart = new PlotlyChart({
      className: 'yl-ChartPlot',
      figure: ({ theme, buckets, xRange }) =>
        telemetryFigure(this._model.buffer.series(this._model.metrics), {
          theme,
          buckets,
          range: xRange ?? this._xRange()
        }),
      xRange: () => this._xRange(),
      measure: CHART_UPDATE_MEASURE,
      config: { modeBarButtonsToRemove: ['toImage', 'select2d', 'lasso2d'] }
    });
    this.node.append(bar, this._notice, this._chart.node);

    model.changed.connect(this._onChanged, this);
    this._renderStatus();
  }

  /** The model shown. */
  get model(): TelemetryModel {
    return this._model;
  }

  /** Resolves once plotly is loaded and the first draw is done. */
  get ready(): Promise<void> {
    return this._chart.ready;
  }

  /** Save the kept samples as CSV. */
  exportCSV(): void {
    const text = this._model.buffer.toCSV(this._model.metrics);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    download(`yolo-lab-telemetry-${stamp()}.csv`, url);
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  /** Save the chart as PNG. */
  exportPNG(): Promise<void> {
    return this._chart.exportPNG(`yolo-lab-telemetry-${stamp()}.png`);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._onChanged, this);
    this._chart.dispose();
    super.dispose();
  }

  protected onAfterAttach(): void {
    // A sidebar is attached at start even when closed: load plotly only for a
    // chart someone can see.
    if (this.isVisible) {
      this._show();
    }
  }

  protected onAfterShow(): void {
    this._show();
  }

  protected onResize(): void {
    this._chart.resize();
  }

  private _show(): void {
    this._shown = true;
    void this._chart.show();
  }

  private _button(label: string, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-Button jp-mod-minimal yl-ChartButton';
    button.textContent = label;
    button.addEventListener('click', onClick);
    return button;
  }

  private _onChanged(_: TelemetryModel, change: TelemetryChange): void {
    if (change.kind !== 'append') {
      // A reset may be a clear: the source went with the samples.
      this._renderStatus();
    }
    if (change.kind === 'state') {
      return;
    }
    // Data keeps arriving while paused; nothing is drawn (or fetched) for a
    // chart never shown.
    if (!this._model.paused && this._shown) {
      this._chart.update();
    }
  }

  /** The window shown, epoch ms: up to the newest sample. */
  private _xRange(): [number, number] {
    const last = this._model.buffer.last?.t ?? Date.now() / 1000;
    return [(last - this._model.windowS) * 1000, last * 1000];
  }

  private _renderStatus(): void {
    const model = this._model;
    const labels = this._labels;
    const parts: string[] = [];
    if (model.source === null) {
      parts.push(labels.waiting);
    } else {
      parts.push(model.source === 'nvml' ? labels.gpuView : labels.cpuView);
    }
    if (!model.live) {
      parts.push(labels.saved);
    }
    if (model.paused) {
      parts.push(labels.paused);
    }
    this._status.textContent = parts.join(' · ');
    this.node.dataset.source = model.source ?? '';
    this.node.dataset.paused = String(model.paused);
    this._pause.textContent = model.paused ? labels.resume : labels.pause;
    this._pause.setAttribute('aria-pressed', String(model.paused));
    this._notice.textContent = model.notice ?? '';
    this._notice.hidden = !model.notice;
  }

  private _model: TelemetryModel;
  private _labels: IChartLabels;
  private _chart: PlotlyChart;
  private _status: HTMLSpanElement;
  private _pause: HTMLButtonElement;
  private _notice = Object.assign(document.createElement('div'), {
    className: 'yl-ChartNotice jp-mod-warning',
    role: 'status'
  });
  /** Whether the chart has been visible (plotly may be fetched). */
  private _shown = false;
}
