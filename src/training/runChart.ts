/**
 * The run view's chart: the x axis toggle (time or epochs) and the plot of
 * the run's figure, redrawn at most once a second while the run streams.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { PlotlyChart } from '../charts/chart';
import { el } from '../dom';
import { runFigure, type IRunFigureData, type RunAxis } from './figure';

/** Name of the performance measure of each streamed chart update. */
export const RUN_CHART_MEASURE = 'yolo-lab:run-chart-update';

/** The least time between two redraws of a streaming run's chart. */
export const RUN_CHART_MIN_INTERVAL_MS = 1000;

/** What the chart draws before a run's history has come. */
const EMPTY_RUN = { batches: [], epochs: [], telemetry: [] };

/**
 * The x axis a new run view starts with: the last one chosen in any view of
 * the page (epochs until then: a training chart reads against epochs).
 * Each view keeps its own choice after that.
 */
let defaultAxis: RunAxis = 'epoch';

/** The x axes the toggle offers, in its order. */
const AXES: readonly RunAxis[] = ['time', 'epoch'];

/** Options of a run chart. */
export interface IRunChartOptions {
  /** The run's events (null before a run is shown). */
  data: () => IRunFigureData | null;
  /** Whether there is something to draw now (attached, history loaded). */
  live: () => boolean;
  trans: TranslationBundle;
}

/**
 * The axis toggle (`axisBar`) and the plot (`node`), which the view places.
 */
export class RunChart implements IDisposable {
  constructor(options: IRunChartOptions) {
    const trans = options.trans;
    this._live = options.live;
    this.axisBar = el('div', 'yl-RunAxis');
    this.axisBar.setAttribute('role', 'group');
    this.axisBar.setAttribute('aria-label', trans.__('x axis'));
    const axisLabel = el('span', 'yl-RunAxisLabel', trans.__('x axis:'));
    // The group's aria-label says it to screen readers.
    axisLabel.setAttribute('aria-hidden', 'true');
    this.axisBar.append(axisLabel);
    for (const axis of AXES) {
      const button = el(
        'button',
        'jp-Button jp-mod-minimal yl-RunAxisButton',
        axis === 'time' ? trans.__('time') : trans.__('epoch')
      );
      button.type = 'button';
      button.dataset.axis = axis;
      button.addEventListener('click', () => this._setAxis(axis));
      this._axisButtons.push(button);
      this.axisBar.append(button);
    }
    this._showAxis();
    this._chart = new PlotlyChart({
      className: 'yl-RunPlot',
      figure: ({ theme, buckets }) =>
        runFigure(options.data() ?? EMPTY_RUN, {
          theme,
          buckets,
          x: this._axis
        }),
      // A redraw of this figure costs tens of milliseconds, and the run hub
      // sends events four times a second; the progress line and the rest
      // follow every event.
      minIntervalMs: RUN_CHART_MIN_INTERVAL_MS,
      measure: RUN_CHART_MEASURE,
      detail: () => ({ batches: options.data()?.batches.length ?? 0 }),
      config: { modeBarButtonsToRemove: ['select2d', 'lasso2d'] }
    });
  }

  /** The x axis toggle: a group of pressed buttons. */
  readonly axisBar: HTMLDivElement;

  /** The plot. */
  get node(): HTMLElement {
    return this._chart.node;
  }

  /** The chart's x axis: time or epochs. */
  get axis(): RunAxis {
    return this._axis;
  }

  get isDisposed(): boolean {
    return this._chart.isDisposed;
  }

  /**
   * Redraw the chart at the next frame, or, within a second of the last
   * redraw, a second after it (RUN_CHART_MIN_INTERVAL_MS).
   */
  schedule(): void {
    if (this._live()) {
      this._chart.update();
    }
  }

  resize(): void {
    this._chart.resize();
  }

  dispose(): void {
    this._chart.dispose();
  }

  /** Show the chart against `axis`, and start new views with it. */
  private _setAxis(axis: RunAxis): void {
    defaultAxis = axis;
    if (axis === this._axis) {
      return;
    }
    this._axis = axis;
    this._showAxis();
    // At once: the user asked (one plotly redraw; no-op before plotly loads).
    if (this._live()) {
      void this._chart.redraw();
    }
  }

  private _showAxis(): void {
    for (const button of this._axisButtons) {
      const pressed = button.dataset.axis === this._axis;
      button.setAttribute('aria-pressed', String(pressed));
    }
  }

  private _chart: PlotlyChart;
  private _live: () => boolean;
  private _axis: RunAxis = defaultAxis;
  private _axisButtons: HTMLButtonElement[] = [];
}
