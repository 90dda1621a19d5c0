/**
 * One plot div drawn by plotly.js: the chart layer every yolo-lab chart uses
 * (the telemetry charts, the run view).
 *
 * The owner says what to draw (a pure figure function) and when something
 * changed (`update`); the chart loads plotly, coalesces updates into at most
 * one draw per frame and per `minIntervalMs`, follows the theme, takes the
 * line-only path when it can, resizes, exports PNG and purges plotly on
 * dispose.
 */
import type { IDisposable } from '@lumino/disposable';
import { linePaths, pixelColumns } from './decimate';
import type { IFigure, IFigureRequest } from './figure';
import { loadPlotly, type Plotly } from './plotly';
import { onThemeChange, readTheme, type IChartTheme } from './theme';

/** How a draw was made, as the performance measures' `detail.draw` says. */
export type DrawKind = 'plotly' | 'lines';

/** Options of a plotly chart. */
export interface IPlotlyChartOptions {
  /** Class of the plot div (CSS; tests and benchmarks find the plot by it). */
  className: string;
  /** The figure to draw; called for each draw, so it should be cheap. */
  figure: (request: IFigureRequest) => IFigure;
  /**
   * The x range a chart that follows a moving window shows now (x axis
   * units). Given, streamed updates that move it less than a pixel may take
   * the line-only path.
   */
  xRange?: () => [number, number];
  /** The least time between two scheduled draws (0: one per frame). */
  minIntervalMs?: number;
  /**
   * Name of the performance measure taken for each draw: its main-thread
   * cost, for PerformanceObservers (benchmarks, tests, the devtools), with
   * `detail.draw` the kind of draw.
   */
  measure: string;
  /** More `detail` for each measure (e.g. how much data was drawn). */
  detail?: () => Record<string, unknown>;
  /** More plotly config (which modebar buttons to remove). */
  config?: Record<string, unknown>;
}

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

/** What the last full redraw of a moving window put on screen. */
interface IDrawn {
  /** The x range asked for. */
  range: [number, number];
  buckets: number;
  theme: IChartTheme;
  names: string[];
}

/** Download a URL (data or blob) under a file name. */
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
 * A plot div and the plotly figure drawn in it.
 */
export class PlotlyChart implements IDisposable {
  constructor(options: IPlotlyChartOptions) {
    this._options = options;
    this.node = document.createElement('div');
    this.node.className = options.className;
    this._theme = onThemeChange(() => {
      if (this._plotted) {
        void this.redraw();
      }
    });
  }

  /** The plot div; its owner puts it in the page. */
  readonly node: HTMLDivElement;

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Resolves once plotly is loaded and the draw asked by `show` is done. */
  get ready(): Promise<void> {
    return this._ready;
  }

  /**
   * Load plotly and draw at once: the chart can be seen now. Until then
   * nothing is fetched, so hidden charts cost nothing.
   */
  show(): Promise<void> {
    this._ready = this._load().then(() => this.redraw());
    return this._ready;
  }

  /**
   * Draw what changed: at the next animation frame (bursts coalesce into one
   * draw), and no sooner than `minIntervalMs` after the last one. Loads
   * plotly if `show` has not.
   */
  update(): void {
    if (this._disposed || this._frame !== null || this._timer !== null) {
      return;
    }
    const wait =
      this._lastDraw + (this._options.minIntervalMs ?? 0) - performance.now();
    if (wait > 0) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        this._nextFrame();
      }, wait);
    } else {
      this._nextFrame();
    }
  }

  /** Redraw through plotly now: axes, legend, lines, hover data. */
  redraw(): Promise<void> {
    return this._redraw(performance.now());
  }

  /** Fit plotly's figure to the div's new size. */
  resize(): void {
    if (this._plotly && this._plotted) {
      void this._plotly.Plots.resize(this.node);
      // The decimation was for the old width: plotly redraws next time.
      this._drawn = null;
    }
  }

  /** Save the chart as PNG (at least 600 × 300 pixels). */
  async exportPNG(fileName: string): Promise<void> {
    const plotly = await this._load();
    // Lines drawn since plotly's last redraw are not in its figure yet.
    await this.redraw();
    const url = await plotly.toImage(this.node, {
      format: 'png',
      width: Math.max(this.node.clientWidth, 600),
      height: Math.max(this.node.clientHeight, 300)
    });
    download(fileName, url);
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._theme.dispose();
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    this._plotly?.purge(this.node);
  }

  private _load(): Promise<Plotly> {
    this._loading ??= loadPlotly().then(plotly => (this._plotly = plotly));
    return this._loading;
  }

  private _nextFrame(): void {
    this._frame = requestAnimationFrame(() => {
      this._frame = null;
      this._lastDraw = performance.now();
      void this._flush();
    });
  }

  private async _flush(): Promise<void> {
    await this._load();
    if (this._disposed || !this.node.isConnected) {
      return;
    }
    const start = performance.now();
    if (this._drawLines()) {
      this._measure(start, 'lines');
    } else {
      await this._redraw(start);
    }
  }

  /**
   * Draw the new points into the lines plotly drew last, leaving plotly's
   * pipeline (defaults, calc, axes, legend: most of a redraw's cost) out,
   * when that is all that changes: the x range has moved less than a pixel,
   * every point is inside the y ranges, and the traces (all plain lines) and
   * their breaks are those drawn. False when plotly must redraw; it then does
   * so at least once per pixel the window moves, so its figure (hover, PNG)
   * is never more than a pixel column behind.
   *
   * Checked on plotly.js 4.1 (package.json pins the minor version): it reads
   * plotly's computed axes (`_fullLayout`) and its trace groups' classes.
   */
  private _drawLines(): boolean {
    const drawn = this._drawn;
    const now = this._options.xRange?.();
    const layout = (this.node as any)._fullLayout as
      Record<string, IPlotAxis | undefined> | undefined;
    const xa = layout?.xaxis;
    if (!drawn || !now || !xa || !usable(xa)) {
      return false;
    }
    const perPixel = (drawn.range[1] - drawn.range[0]) / xa._length;
    if (
      Math.abs(now[0] - drawn.range[0]) >= perPixel ||
      Math.abs(now[1] - drawn.range[1]) >= perPixel
    ) {
      return false;
    }
    // The same range and buckets as drawn: the new points are decimated as
    // plotly's next redraw of that range would.
    const { data } = this._options.figure({
      theme: drawn.theme,
      buckets: drawn.buckets,
      xRange: drawn.range
    });
    if (
      data.length !== drawn.names.length ||
      data.some((trace, i) => trace.name !== drawn.names[i])
    ) {
      return false;
    }
    const writes: Array<[Element, string]> = [];
    for (const trace of data) {
      const ya = layout[`yaxis${trace.yaxis.slice(1)}`];
      if (trace.mode !== 'lines' || !trace.uid || !ya || !usable(ya)) {
        return false;
      }
      const [lo, hi] = (ya.range as number[]).slice().sort((a, b) => a - b);
      const paths = linePaths(
        trace,
        x => xa.l2p(x),
        y => ya.l2p(y),
        lo,
        hi
      );
      const nodes = this.node.querySelectorAll(
        `.trace${trace.uid} path.js-line`
      );
      if (!paths || nodes.length !== paths.length) {
        return false;
      }
      paths.forEach((d, k) => writes.push([nodes[k], d]));
    }
    for (const [node, d] of writes) {
      node.setAttribute('d', d);
    }
    return true;
  }

  private _redraw(start: number): Promise<void> {
    const plotly = this._plotly;
    if (!plotly || this._disposed || !this.node.isConnected) {
      return Promise.resolve();
    }
    const theme = readTheme();
    const buckets = pixelColumns(this.node.clientWidth);
    const xRange = this._options.xRange?.();
    const { data, layout } = this._options.figure({ theme, buckets, xRange });
    return plotly
      .react(
        this.node,
        data,
        { ...layout, datarevision: ++this._revision },
        { displaylogo: false, responsive: true, ...this._options.config }
      )
      .then(() => {
        this._plotted = true;
        this._drawn = xRange
          ? { range: xRange, buckets, theme, names: data.map(t => t.name) }
          : null;
        this._measure(start, 'plotly');
      });
  }

  private _measure(start: number, draw: DrawKind): void {
    const name = this._options.measure;
    performance.measure(name, {
      start,
      detail: { draw, ...this._options.detail?.() }
    });
    // Observers have it; the timeline buffer must not grow while a chart
    // streams for hours.
    performance.clearMeasures(name);
  }

  private _options: IPlotlyChartOptions;
  private _disposed = false;
  private _theme: IDisposable;
  private _plotly: Plotly | null = null;
  private _loading: Promise<Plotly> | null = null;
  private _ready: Promise<void> = Promise.resolve();
  /** Whether plotly has drawn (a figure to resize, to restyle). */
  private _plotted = false;
  /** What plotly drew last, while line-only updates may follow it. */
  private _drawn: IDrawn | null = null;
  private _revision = 0;
  private _frame: number | null = null;
  private _timer: number | null = null;
  private _lastDraw = -Infinity;
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
