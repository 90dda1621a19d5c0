/**
 * The live view of a training run: the notebook output of `train(...)`
 * (MIME type application/vnd.yolo-lab.run+json).
 *
 * The output holds only which run to show; the events come from the run
 * folder through the kernel (history first, then live), so a reloaded page,
 * another browser or a restarted kernel rebuild the same charts from disk.
 * One plot, one time axis: losses per batch, mAP per epoch, images per
 * second, and GPU utilization and memory (CPU and RAM without a GPU).
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import type { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';
import type { ISchemaCheck } from '../protocol';
import { decimate, pixelColumns } from '../charts/decimate';
import { loadPlotly, type Plotly } from '../charts/plotly';
import { readTheme } from '../charts/theme';
import type { IKernelBridge } from '../tokens';
import { RunModel } from './model';
import { IRunDisplay, RUN_MIME } from './types';
import { el } from '../dom';

/** Name of the performance measure of each streamed chart update. */
export const RUN_CHART_MEASURE = 'yolo-lab:run-chart-update';

/** The least time between two redraws of a streaming run's chart. */
export const RUN_CHART_MIN_INTERVAL_MS = 1000;

/** Options of the run output renderer. */
export interface IRunViewOptions {
  bridge: IKernelBridge;
  /** Check of definitions/run_display, shared by the page's outputs. */
  check: () => Promise<ISchemaCheck>;
  /** Write and run a cell that resumes the run (a command of the app). */
  resume: (run: string) => Promise<void>;
}

/** Seconds as "1 h 02 min", "3 min 05 s" or "12 s". */
export function formatDuration(s: number): string {
  const total = Math.max(0, Math.round(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (h) {
    return `${h} h ${String(m).padStart(2, '0')} min`;
  }
  if (m) {
    return `${m} min ${String(sec).padStart(2, '0')} s`;
  }
  return `${sec} s`;
}

const GIB = 2 ** 30;

/**
 * Renders one run: header, progress, errors, buttons, the chart, weights.
 */
export class RunView extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRunViewOptions) {
    super();
    this._options = options;
    this.addClass('yl-RunView');
    this._title = el('span', 'yl-RunTitle');
    this._badge = el('span', 'yl-RunBadge');
    this._stop = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-warn yl-RunStop',
      'Stop'
    );
    this._stop.type = 'button';
    this._stop.addEventListener('click', () => void this._onStop());
    this._resume = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-accept yl-RunResume',
      'Resume'
    );
    this._resume.type = 'button';
    this._resume.addEventListener('click', () => {
      if (this._model) {
        void this._options.resume(this._model.run);
      }
    });
    const head = el('div', 'yl-RunHead');
    head.append(this._title, this._badge, this._stop, this._resume);
    this._progress = el('div', 'yl-RunProgress');
    this._detail = el('div', 'yl-RunDetail');
    this._problem = el('div', 'yl-RunProblem jp-mod-error');
    this._problem.setAttribute('role', 'alert');
    this._plot = el('div', 'yl-RunPlot');
    this._weights = el('ul', 'yl-RunWeights');
    this.node.append(
      head,
      this._progress,
      this._detail,
      this._problem,
      this._plot,
      this._weights
    );
  }

  /** The run shown, once rendered. */
  get model(): RunModel | null {
    return this._model;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[RUN_MIME];
    const check = await this._options.check();
    if (!check(data)) {
      this._problem.textContent =
        'This yolo-lab run output does not match the protocol schema; ' +
        're-run the cell with the same yolo-lab version in the kernel and in JupyterLab.';
      return;
    }
    const display = data as unknown as IRunDisplay;
    if (this._model?.run === display.run) {
      return;
    }
    this._subscription?.dispose();
    this._model?.changed.disconnect(this._onChanged, this);
    this._display = display;
    this._model = new RunModel(display.run);
    this._model.changed.connect(this._onChanged, this);
    this.node.dataset.run = display.run;
    this._subscription = this._options.bridge.listenRun(display.run, m =>
      this._model?.add(m)
    );
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._subscription?.dispose();
    if (this._frame !== null) {
      cancelAnimationFrame(this._frame);
    }
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    this._plotly?.purge(this._plot);
    super.dispose();
  }

  protected onAfterAttach(): void {
    this._schedule();
  }

  protected onResize(): void {
    if (this._plotly && this._drawn) {
      this._plotly.Plots.resize(this._plot);
    }
  }

  private async _onStop(): Promise<void> {
    if (!this._model) {
      return;
    }
    this._stop.disabled = true;
    this._stop.textContent = 'Stopping…';
    try {
      const result = await this._options.bridge.stopRun(this._model.run);
      this._detail.textContent = result.message;
    } catch (reason) {
      this._stop.disabled = false;
      this._stop.textContent = 'Stop';
      this._problem.textContent = `Could not stop the run: ${reason}`;
    }
  }

  private _onChanged(): void {
    this._render();
    this._schedule();
  }

  private _render(): void {
    const model = this._model;
    const display = this._display;
    if (!model || !display) {
      return;
    }
    const status = model.loaded
      ? (model.status.status ?? 'unknown')
      : 'waiting';
    this.node.dataset.status = status;
    this._title.textContent = `Run ${display.name}`;
    this._title.title = display.run;
    this._badge.textContent = model.loaded
      ? status
      : 'waiting for a yolo-lab kernel…';
    this._badge.dataset.status = status;
    this._stop.hidden = !model.active;
    if (model.active && !this._stop.textContent?.startsWith('Stopping')) {
      this._stop.disabled = false;
      this._stop.textContent = 'Stop';
    }
    const weights = model.weights;
    this._resume.hidden = !(
      (status === 'stopped' || status === 'failed') &&
      weights.last
    );

    const progress = model.progress();
    const parts: string[] = [];
    if (progress) {
      parts.push(
        `epoch ${progress.epoch + 1}/${progress.epochs}`,
        `batch ${progress.batch + 1}/${progress.batches}`
      );
      if (progress.etaS !== null) {
        parts.push(`ETA ${formatDuration(progress.etaS)}`);
      }
    }
    const last = model.batches[model.batches.length - 1];
    if (last?.imgs_per_s) {
      parts.push(`${last.imgs_per_s.toFixed(1)} img/s`);
    }
    const epoch = model.epochs[model.epochs.length - 1];
    if (epoch?.map50 !== null && epoch?.map50 !== undefined) {
      parts.push(`mAP@0.5 ${epoch.map50.toFixed(3)}`);
    }
    this._progress.textContent = parts.join(' · ');

    const params = (model.start?.params ?? display.params ?? {}) as Record<
      string,
      unknown
    >;
    const details: string[] = [];
    if (params.device !== undefined) {
      details.push(`device ${JSON.stringify(params.device)}`);
    }
    if (params.batch_size !== undefined) {
      details.push(`batch ${params.batch_size}`);
    }
    if (model.amp) {
      details.push(
        `AMP ${model.amp.enabled ? 'on' : 'off'} (${model.amp.reason})`
      );
    }
    if (params.imgsz !== undefined) {
      details.push(`${params.imgsz} px`);
    }
    this._detail.textContent = details.join(' · ');
    this.node.dataset.amp = model.amp ? String(model.amp.enabled) : '';

    const problem =
      model.error ??
      (status === 'failed' || status === 'unknown'
        ? model.status.message
          ? {
              message: model.status.message,
              fix: model.status.fix ?? ''
            }
          : null
        : null);
    this._problem.replaceChildren();
    if (problem) {
      this._problem.append(
        el('div', 'yl-RunProblemText', problem.message),
        el(
          'div',
          'yl-RunProblemFix',
          problem.fix ? `What to do: ${problem.fix}` : ''
        )
      );
    } else if (status === 'stopped' && model.status.message) {
      this._detail.textContent += ` · stopped: ${model.status.message}`;
    }

    this._weights.replaceChildren();
    for (const [label, path] of [
      ['last.pt', weights.last],
      ['best.pt', weights.best]
    ] as const) {
      if (path) {
        const li = el('li', 'yl-RunWeight');
        li.dataset.weight = label;
        li.append(el('strong', '', `${label}: `), el('code', '', path));
        this._weights.append(li);
      }
    }
    this.node.dataset.lossPoints = String(model.batches.length);
    this.node.dataset.epochPoints = String(model.epochs.length);
  }

  /**
   * Redraw the chart on the next frame, or, within a second of the last
   * redraw, a second after it: a plotly redraw of this figure costs tens of
   * milliseconds, and the run hub sends events four times a second. The
   * progress line and the rest follow every event.
   */
  private _schedule(): void {
    if (!this.isAttached || !this._model?.loaded) {
      return;
    }
    if (this._frame !== null || this._timer !== null) {
      return;
    }
    const frame = (): void => {
      this._frame = requestAnimationFrame(() => {
        this._frame = null;
        this._lastDraw = performance.now();
        void this._draw();
      });
    };
    const wait = this._lastDraw + RUN_CHART_MIN_INTERVAL_MS - performance.now();
    if (wait > 0) {
      this._timer = window.setTimeout(() => {
        this._timer = null;
        frame();
      }, wait);
    } else {
      frame();
    }
  }

  private async _draw(): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    this._plotly ??= await loadPlotly();
    if (!this.isAttached) {
      return;
    }
    const start = performance.now();
    const ms = (t: number): number => t * 1000;
    const batches = model.batches;
    const epochs = model.epochs;
    const samples = model.telemetry.map(e => e.sample);
    const hasGpu = samples.some(s => s.gpus.length > 0);
    const bx = batches.map(b => b.t);
    const ex = epochs.map(e => e.t);
    const tx = samples.map(s => s.t);
    // Lines are decimated to about two points per pixel column of the run's
    // time span (min and max, so spikes stay): a redraw of a day-long run
    // costs what one of its first minutes does.
    const span = [bx, ex, tx].filter(xs => xs.length > 0);
    const t0 = Math.min(...span.map(xs => xs[0]));
    const t1 = Math.max(...span.map(xs => xs[xs.length - 1]));
    const buckets = pixelColumns(this._plot.clientWidth);
    const line = (
      name: string,
      x: number[],
      y: Array<number | null>,
      yaxis: string,
      extra: Record<string, unknown> = {}
    ): Record<string, unknown> => {
      const drawn = decimate({ x, y }, t0, t1, buckets);
      return {
        type: 'scatter',
        mode: 'lines',
        name,
        x: drawn.x.map(ms),
        y: drawn.y,
        yaxis,
        line: { width: 1.5 },
        ...extra
      };
    };
    const data: Array<Record<string, unknown>> = [
      line(
        'box loss',
        bx,
        batches.map(b => b.box),
        'y'
      ),
      line(
        'obj loss',
        bx,
        batches.map(b => b.obj),
        'y'
      ),
      line(
        'cls loss',
        bx,
        batches.map(b => b.cls),
        'y'
      ),
      line(
        'mAP@0.5',
        ex,
        epochs.map(e => e.map50),
        'y2',
        {
          mode: 'lines+markers'
        }
      ),
      line(
        'mAP@0.5:0.95',
        ex,
        epochs.map(e => e.map),
        'y2',
        {
          mode: 'lines+markers'
        }
      ),
      line(
        'images/s',
        bx,
        batches.map(b => b.imgs_per_s),
        'y3'
      )
    ];
    if (hasGpu) {
      const gpuCount = Math.max(...samples.map(s => s.gpus.length));
      for (let g = 0; g < gpuCount; g++) {
        data.push(
          line(
            `GPU ${g} util %`,
            tx,
            samples.map(s => s.gpus[g]?.util_pct ?? null),
            'y4'
          ),
          line(
            `GPU ${g} memory GiB`,
            tx,
            samples.map(s => {
              const b = s.gpus[g]?.mem_used_bytes;
              return b === null || b === undefined ? null : b / GIB;
            }),
            'y5',
            { line: { width: 1.5, dash: 'dot' } }
          )
        );
      }
    } else {
      data.push(
        line(
          'CPU %',
          tx,
          samples.map(s => s.cpu_pct),
          'y4'
        ),
        line(
          'training RAM GiB',
          tx,
          samples.map(s =>
            s.proc_rss_bytes === null ? null : s.proc_rss_bytes / GIB
          ),
          'y5',
          { line: { width: 1.5, dash: 'dot' } }
        )
      );
    }
    const { font, grid, paper } = readTheme();
    const axis = { gridcolor: grid, zerolinecolor: grid, color: font };
    const layout = {
      autosize: true,
      height: 520,
      margin: { l: 52, r: 52, t: 8, b: 36 },
      paper_bgcolor: paper,
      plot_bgcolor: paper,
      font: { color: font, size: 11 },
      showlegend: true,
      legend: { orientation: 'h', y: -0.08, font: { size: 10 } },
      xaxis: { ...axis, type: 'date', anchor: 'y4' },
      yaxis: {
        ...axis,
        domain: [0.78, 1],
        title: { text: 'loss' },
        rangemode: 'tozero'
      },
      yaxis2: {
        ...axis,
        domain: [0.53, 0.73],
        title: { text: 'mAP' },
        rangemode: 'tozero'
      },
      yaxis3: {
        ...axis,
        domain: [0.28, 0.48],
        title: { text: 'img/s' },
        rangemode: 'tozero'
      },
      yaxis4: {
        ...axis,
        domain: [0, 0.23],
        title: { text: hasGpu ? 'GPU %' : 'CPU %' },
        range: [0, 100]
      },
      yaxis5: {
        ...axis,
        overlaying: 'y4',
        side: 'right',
        title: { text: 'GiB' },
        rangemode: 'tozero',
        showgrid: false
      },
      uirevision: 'yolo-lab-run',
      datarevision: ++this._revision
    };
    await this._plotly.react(this._plot, data, layout, {
      displaylogo: false,
      responsive: true,
      modeBarButtonsToRemove: ['select2d', 'lasso2d']
    });
    this._drawn = true;
    this._plot.dataset.traces = String(data.length);
    this._plot.dataset.lossPoints = String(batches.length);
    performance.measure(RUN_CHART_MEASURE, { start });
    performance.clearMeasures(RUN_CHART_MEASURE);
  }

  private _options: IRunViewOptions;
  private _model: RunModel | null = null;
  private _display: IRunDisplay | null = null;
  private _subscription: IDisposable | null = null;
  private _title: HTMLSpanElement;
  private _badge: HTMLSpanElement;
  private _stop: HTMLButtonElement;
  private _resume: HTMLButtonElement;
  private _progress: HTMLDivElement;
  private _detail: HTMLDivElement;
  private _problem: HTMLDivElement;
  private _plot: HTMLDivElement;
  private _weights: HTMLUListElement;
  private _plotly: Plotly | null = null;
  private _drawn = false;
  private _revision = 0;
  private _frame: number | null = null;
  private _timer: number | null = null;
  private _lastDraw = -Infinity;
}
