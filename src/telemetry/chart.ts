/**
 * A live telemetry chart: plotly.js, loaded on the first chart shown (a
 * separate chunk, not fetched at JupyterLab start), streaming new points into
 * bounded traces, following the light/dark theme, with pause and exports.
 */
import { Widget } from '@lumino/widgets';
import type { TelemetryChange, TelemetryModel } from './model';
import { decimate, linePaths } from '../charts/decimate';
import type { ISeries } from './stream';

export type Plotly = (typeof import('plotly.js-dist-min'))['default'];

let plotlyPromise: Promise<Plotly> | null = null;

/** plotly.js, fetched as a separate chunk on the first chart shown. */
export function loadPlotly(): Promise<Plotly> {
  plotlyPromise ??= import('plotly.js-dist-min').then(m => m.default);
  return plotlyPromise;
}

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

/** Name of the performance measure taken for each streamed update. */
export const CHART_UPDATE_MEASURE = 'yolo-lab:chart-update';

const AXIS_OF: Record<ISeries['axis'], string> = {
  percent: 'y',
  celsius: 'y',
  gib: 'y2',
  watts: 'y3'
};

/** The id plotly gives a trace (its group gets the class `trace<uid>`). */
const uid = (i: number): string => `yl${i}`;

/**
 * The parts of plotly's computed axes the line-only update reads: pixel
 * mappings of linearized values, and the y ranges. Checked before each use;
 * without them the chart redraws through plotly.
 */
interface IPlotAxis {
  l2p(v: number): number;
  range: unknown[];
  _length: number;
}

/** What the last full redraw put on screen. */
interface IDrawn {
  /** The x range asked for, in epoch ms. */
  range: [number, number];
  buckets: number;
  names: string[];
}

/**
 * Decimation buckets for a plot: one per pixel column of its width (600 while
 * it has none), at least 100.
 */
export function pixelColumns(plot: HTMLElement): number {
  return Math.max(100, Math.floor(plot.clientWidth || 600));
}

/** Read a CSS variable of the current theme. */
export function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** Download text or a data URL under a file name. */
export function download(name: string, href: string): void {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

/** A time stamp for export file names. */
export function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
}

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

    this._plot = document.createElement('div');
    this._plot.className = 'yl-ChartPlot';
    this.node.append(bar, this._notice, this._plot);

    model.changed.connect(this._onChanged, this);
    this._themeObserver = new MutationObserver(() => void this._redraw());
    this._themeObserver.observe(document.body, {
      attributes: true,
      attributeFilter: ['data-jp-theme-light', 'data-jp-theme-name']
    });
    this._renderStatus();
  }

  /** The model shown. */
  get model(): TelemetryModel {
    return this._model;
  }

  /** Resolves once plotly is loaded and the first draw is done. */
  get ready(): Promise<void> {
    return this._ready;
  }

  /** Save the kept samples as CSV. */
  exportCSV(): void {
    const text = this._model.buffer.toCSV(this._model.metrics);
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
    download(`yolo-lab-telemetry-${stamp()}.csv`, url);
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }

  /** Save the chart as PNG. */
  async exportPNG(): Promise<void> {
    const plotly = await this._loadPlotly();
    // Lines drawn since plotly's last redraw are not in its figure yet.
    await this._redraw();
    const url = await plotly.toImage(this._plot, {
      format: 'png',
      width: Math.max(this._plot.clientWidth, 600),
      height: Math.max(this._plot.clientHeight, 300)
    });
    download(`yolo-lab-telemetry-${stamp()}.png`, url);
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._themeObserver.disconnect();
    this._model.changed.disconnect(this._onChanged, this);
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
    this._plotly?.purge(this._plot);
    super.dispose();
  }

  protected onAfterAttach(): void {
    // A sidebar is attached at start even when closed: load plotly only for a
    // chart someone can see.
    if (this.isVisible) {
      this._draw();
    }
  }

  protected onAfterShow(): void {
    this._draw();
  }

  private _draw(): void {
    this._ready = this._loadPlotly().then(() => this._redraw());
  }

  protected onResize(): void {
    if (this._plotly && this._plotted) {
      void this._plotly.Plots.resize(this._plot);
      // The decimation was for the old width: plotly redraws next time.
      this._drawn = null;
    }
  }

  private _button(label: string, onClick: () => void): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-Button jp-mod-minimal yl-ChartButton';
    button.textContent = label;
    button.addEventListener('click', onClick);
    return button;
  }

  private _loadPlotly(): Promise<Plotly> {
    if (!this._plotlyPromise) {
      this._plotlyPromise = loadPlotly().then(plotly => {
        this._plotly = plotly;
        return plotly;
      });
    }
    return this._plotlyPromise;
  }

  private _onChanged(_: TelemetryModel, change: TelemetryChange): void {
    // Kept current even while paused: data keeps arriving.
    this.node.dataset.samples = String(this._model.buffer.entries.length);
    if (change.kind === 'state') {
      this._renderStatus();
      return;
    }
    if (this._model.paused) {
      return;
    }
    // Coalesce bursts (a replayed history, several batches) into one plot
    // update per animation frame.
    if (this._frame === null) {
      this._frame = requestAnimationFrame(() => {
        this._frame = null;
        this._flush();
      });
    }
  }

  private _flush(): void {
    if (!this._plotly || !this.isAttached) {
      return;
    }
    const start = performance.now();
    if (this._drawLines()) {
      this._lineDraws++;
      this._plot.dataset.lineDraws = String(this._lineDraws);
      this._plot.dataset.lastDraw = 'lines';
    } else {
      void this._redraw();
    }
    // Main-thread cost of one streamed update, for PerformanceObservers (the
    // browser benchmark, the devtools); cleared at once so the timeline
    // buffer does not grow while a chart streams for hours.
    performance.measure(CHART_UPDATE_MEASURE, { start });
    performance.clearMeasures(CHART_UPDATE_MEASURE);
  }

  private _xRange(): [number, number] {
    const last = this._model.buffer.last?.t ?? Date.now() / 1000;
    return [(last - this._model.windowS) * 1000, last * 1000];
  }

  /**
   * The series as drawn over an x range (epoch ms): decimated to about two
   * points per pixel column, so the picture is the same and a redraw costs
   * the same for a 10-minute or a 10-hour window.
   */
  private _series(range: [number, number], buckets: number): ISeries[] {
    const [x0, x1] = range.map(v => v / 1000);
    return this._model.buffer
      .series(this._model.metrics)
      .map(s => decimate(s, x0, x1, buckets));
  }

  /**
   * Draw the new points into the lines plotly drew last, leaving plotly's
   * pipeline (defaults, calc, axes, legend: most of a redraw's cost) out,
   * when that is all that changes: the x range has moved less than a pixel,
   * every point is inside the y ranges, and the traces and their breaks are
   * those drawn. False when plotly must redraw; it then does so, at least once
   * per pixel the window moves, so its figure (hover, PNG) is never more
   * than a pixel column behind.
   */
  private _drawLines(): boolean {
    const drawn = this._drawn;
    const layout = (this._plot as any)._fullLayout as
      Record<string, IPlotAxis | undefined> | undefined;
    const xa = layout?.xaxis;
    if (!drawn || !xa || !usable(xa)) {
      return false;
    }
    const [x0, x1] = this._xRange();
    const msPerPixel = (drawn.range[1] - drawn.range[0]) / xa._length;
    if (
      Math.abs(x0 - drawn.range[0]) >= msPerPixel ||
      Math.abs(x1 - drawn.range[1]) >= msPerPixel
    ) {
      return false;
    }
    const series = this._series(drawn.range, drawn.buckets);
    if (
      series.length !== drawn.names.length ||
      series.some((s, i) => s.name !== drawn.names[i])
    ) {
      return false;
    }
    const writes: Array<[Element, string]> = [];
    for (let i = 0; i < series.length; i++) {
      const axisId = AXIS_OF[series[i].axis];
      const ya = layout[`yaxis${axisId.slice(1)}`];
      if (!ya || !usable(ya)) {
        return false;
      }
      const [lo, hi] = (ya.range as number[]).slice().sort((a, b) => a - b);
      const paths = linePaths(
        series[i],
        x => xa.l2p(x * 1000),
        y => ya.l2p(y),
        lo,
        hi
      );
      const nodes = this._plot.querySelectorAll(`.trace${uid(i)} path.js-line`);
      if (!paths || nodes.length !== paths.length) {
        return false;
      }
      paths.forEach((d, k) => writes.push([nodes[k], d]));
    }
    for (const [node, d] of writes) {
      node.setAttribute('d', d);
    }
    this._plot.dataset.points = String(series[0]?.x.length ?? 0);
    return true;
  }

  /** Redraw through plotly: axes, legend, lines, hover data. */
  private _redraw(): Promise<void> {
    const plotly = this._plotly;
    if (!plotly || !this.isAttached) {
      return Promise.resolve();
    }
    const range = this._xRange();
    const buckets = pixelColumns(this._plot);
    const series = this._series(range, buckets);
    const font = cssVar('--jp-ui-font-color1', '#333');
    const grid = cssVar('--jp-border-color2', '#ddd');
    const paper = cssVar('--jp-layout-color1', '#fff');
    const axis = { gridcolor: grid, zerolinecolor: grid, color: font };
    const usesWatts = series.some(s => s.axis === 'watts');
    const data = series.map((s, i) => ({
      type: 'scatter',
      mode: 'lines',
      uid: uid(i),
      name: s.name,
      x: s.x.map(t => t * 1000),
      y: s.y,
      yaxis: AXIS_OF[s.axis],
      connectgaps: false,
      // Every point drawn, as the line-only update draws them.
      line: { width: 1.5, simplify: false }
    }));
    const layout = {
      autosize: true,
      height: 260,
      margin: { l: 44, r: usesWatts ? 80 : 44, t: 8, b: 32 },
      paper_bgcolor: paper,
      plot_bgcolor: paper,
      font: { color: font, size: 11 },
      showlegend: true,
      legend: { orientation: 'h', y: -0.18, font: { size: 10 } },
      xaxis: { ...axis, type: 'date', range },
      yaxis: { ...axis, title: { text: '% · °C' }, rangemode: 'tozero' },
      yaxis2: {
        ...axis,
        title: { text: 'GiB' },
        overlaying: 'y',
        side: 'right',
        rangemode: 'tozero',
        showgrid: false
      },
      yaxis3: {
        ...axis,
        title: { text: 'W' },
        overlaying: 'y',
        side: 'right',
        anchor: 'free',
        position: 1,
        visible: usesWatts,
        showgrid: false
      },
      uirevision: 'yolo-lab',
      datarevision: ++this._revision
    };
    this._plotDraws++;
    this._plot.dataset.plotDraws = String(this._plotDraws);
    this._plot.dataset.lastDraw = 'plotly';
    this._renderStatus();
    return plotly
      .react(this._plot, data, layout, {
        displaylogo: false,
        responsive: true,
        modeBarButtonsToRemove: ['toImage', 'select2d', 'lasso2d']
      })
      .then(() => {
        this._plotted = true;
        this._drawn = { range, buckets, names: series.map(s => s.name) };
        this._plot.dataset.points = String(series[0]?.x.length ?? 0);
      });
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
    this.node.dataset.samples = String(model.buffer.entries.length);
    this._pause.textContent = model.paused ? labels.resume : labels.pause;
    this._pause.setAttribute('aria-pressed', String(model.paused));
    this._notice.textContent = model.notice ?? '';
    this._notice.hidden = !model.notice;
  }

  private _model: TelemetryModel;
  private _labels: IChartLabels;
  private _plot: HTMLDivElement;
  private _status: HTMLSpanElement;
  private _pause: HTMLButtonElement;
  private _notice = Object.assign(document.createElement('div'), {
    className: 'yl-ChartNotice jp-mod-warning',
    role: 'status'
  });
  private _plotly: Plotly | null = null;
  private _plotlyPromise: Promise<Plotly> | null = null;
  private _ready: Promise<void> = Promise.resolve();
  /** Whether plotly has drawn (a figure to resize). */
  private _plotted = false;
  /** What plotly drew last, while line-only updates may follow it. */
  private _drawn: IDrawn | null = null;
  private _plotDraws = 0;
  private _lineDraws = 0;
  private _revision = 0;
  private _frame: number | null = null;
  private _themeObserver: MutationObserver;
}

/** Whether plotly's computed axis has what the line-only update reads. */
function usable(axis: IPlotAxis): boolean {
  return (
    typeof axis.l2p === 'function' &&
    axis._length > 0 &&
    Array.isArray(axis.range) &&
    axis.range.length === 2
  );
}
