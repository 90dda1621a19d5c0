/**
 * The live view of a training run: the notebook output of `train(...)`
 * (MIME type application/vnd.yolo-lab.run+json).
 *
 * The output holds only which run to show; the events come from the run
 * folder through the kernel (history first, then live), so a reloaded page,
 * another browser or a restarted kernel rebuild the same charts from disk.
 * One plot, one x axis (epochs or time, the user's choice): losses per
 * batch, mAP per epoch, images per second, and GPU utilization and memory
 * (CPU and RAM without a GPU); once the run has ended, its figures as a
 * table (best epoch, mAP, time, images/s, weights).
 */
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';
import type { ISchemaCheck } from '../protocol';
import { PlotlyChart } from '../charts/chart';
import type { IRuns } from './tokens';
import { runFigure, type RunAxis } from './figure';
import { RunModel, type IRunSummaryFigures } from './model';
import { IRunDisplay, RUN_MIME } from './types';
import { el } from '../dom';
import { formatDuration } from '../format';

/** Name of the performance measure of each streamed chart update. */
export const RUN_CHART_MEASURE = 'yolo-lab:run-chart-update';

/** The least time between two redraws of a streaming run's chart. */
export const RUN_CHART_MIN_INTERVAL_MS = 1000;

/** Options of the run output renderer. */
export interface IRunViewOptions {
  /** The runs client the view listens through (and registers with). */
  runs: IRuns;
  /** Check of definitions/run_display, shared by the page's outputs. */
  check: () => Promise<ISchemaCheck>;
  /** The user's language (English without one). */
  trans?: TranslationBundle;
  /**
   * Resume the run (a command of the app), with the kernel that started it
   * as its status records (the command asks first when it is another).
   */
  resume: (run: string, kernel: string | null) => Promise<void>;
  /**
   * Apply a verdict's fix to the training form (one click); without it the
   * fix is shown as text only.
   */
  applyFix?: (form: Record<string, unknown>) => void;
}

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

/**
 * Renders one run: header, progress, errors, buttons, the chart, weights.
 */
export class RunView extends Widget implements IRenderMime.IRenderer {
  constructor(options: IRunViewOptions) {
    super();
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    this.addClass('yl-RunView');
    this._title = el('span', 'yl-RunTitle');
    this._badge = el('span', 'yl-RunBadge');
    this._stop = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-warn yl-RunStop',
      this._trans.__('Stop')
    );
    this._stop.type = 'button';
    this._stop.addEventListener('click', () => void this._onStop());
    this._resume = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-accept yl-RunResume',
      this._trans.__('Resume')
    );
    this._resume.type = 'button';
    this._resume.addEventListener('click', () => {
      if (this._model) {
        void this._options.resume(
          this._model.run,
          this._model.status.kernel ?? null
        );
      }
    });
    const head = el('div', 'yl-RunHead');
    head.append(this._title, this._badge, this._stop, this._resume);
    this._progress = el('div', 'yl-RunProgress');
    this._detail = el('div', 'yl-RunDetail');
    this._advice = el('ul', 'yl-RunAdvice');
    this._advice.setAttribute(
      'aria-label',
      this._trans.__('Why this run is slow')
    );
    this._problem = el('div', 'yl-RunProblem jp-mod-error');
    this._problem.setAttribute('role', 'alert');
    this._axisBar = el('div', 'yl-RunAxis');
    this._axisBar.setAttribute('role', 'group');
    this._axisBar.setAttribute('aria-label', this._trans.__('x axis'));
    const axisLabel = el('span', 'yl-RunAxisLabel', this._trans.__('x axis:'));
    // The group's aria-label says it to screen readers.
    axisLabel.setAttribute('aria-hidden', 'true');
    this._axisBar.append(axisLabel);
    for (const axis of AXES) {
      const button = el(
        'button',
        'jp-Button jp-mod-minimal yl-RunAxisButton',
        axis === 'time' ? this._trans.__('time') : this._trans.__('epoch')
      );
      button.type = 'button';
      button.dataset.axis = axis;
      button.addEventListener('click', () => this._setAxis(axis));
      this._axisButtons.push(button);
      this._axisBar.append(button);
    }
    this._showAxis();
    this._chart = new PlotlyChart({
      className: 'yl-RunPlot',
      figure: ({ theme, buckets }) =>
        runFigure(this._model ?? EMPTY_RUN, {
          theme,
          buckets,
          x: this._axis
        }),
      // A redraw of this figure costs tens of milliseconds, and the run hub
      // sends events four times a second; the progress line and the rest
      // follow every event.
      minIntervalMs: RUN_CHART_MIN_INTERVAL_MS,
      measure: RUN_CHART_MEASURE,
      detail: () => ({ batches: this._model?.batches.length ?? 0 }),
      config: { modeBarButtonsToRemove: ['select2d', 'lasso2d'] }
    });
    this._weights = el('ul', 'yl-RunWeights');
    this._summary = el('table', 'yl-RunSummary');
    this._summary.hidden = true;
    this.node.append(
      head,
      this._progress,
      this._detail,
      this._advice,
      this._problem,
      this._axisBar,
      this._chart.node,
      this._summary,
      this._weights
    );
  }

  /** The run shown, once rendered. */
  get model(): RunModel | null {
    return this._model;
  }

  /** The chart's x axis: time or epochs. */
  get axis(): RunAxis {
    return this._axis;
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = model.data[RUN_MIME];
    const check = await this._options.check();
    if (!check(data)) {
      this._problem.textContent = this._trans.__(
        'This yolo-lab run output does not match the protocol schema; ' +
          're-run the cell with the same yolo-lab version in the kernel and in JupyterLab.'
      );
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
    this._subscription = this._options.runs.listen(display.run, m =>
      this._model?.add(m)
    );
    this._registration?.dispose();
    this._registration = this._options.runs.registry.add(
      display.run,
      this,
      this._model
    );
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._subscription?.dispose();
    this._registration?.dispose();
    this._chart.dispose();
    super.dispose();
  }

  protected onAfterAttach(): void {
    this._schedule();
  }

  protected onResize(): void {
    this._chart.resize();
  }

  private async _onStop(): Promise<void> {
    if (!this._model) {
      return;
    }
    this._stop.disabled = true;
    this._stopping = true;
    this._stop.textContent = this._trans.__('Stopping…');
    try {
      const result = await this._options.runs.stop(this._model.run);
      this._detail.textContent = result.message;
    } catch (reason) {
      this._stopping = false;
      this._stop.disabled = false;
      this._stop.textContent = this._trans.__('Stop');
      this._problem.textContent = this._trans.__(
        'Could not stop the run: %1',
        String(reason)
      );
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
    this._title.textContent = this._trans.__('Run %1', display.name);
    this._title.title = display.run;
    this._badge.textContent = model.loaded
      ? status
      : 'waiting for a yolo-lab kernel…';
    this._badge.dataset.status = status;
    this._stop.hidden = !model.active;
    if (model.active && !this._stopping) {
      this._stop.disabled = false;
      this._stop.textContent = this._trans.__('Stop');
    }
    const weights = model.weights;
    // Stopped runs, and lost ones (a detached run's process vanished):
    // a finished run has nothing left to train (its last.pt is final), and
    // a failed one needs its fix first (the error says which); resume(run)
    // from code still takes a crashed one.
    this._resume.hidden = !(
      (status === 'stopped' || status === 'lost') &&
      weights.last
    );

    const progress = model.progress();
    const parts: string[] = [];
    if (progress) {
      parts.push(
        this._trans.__('epoch %1/%2', progress.epoch + 1, progress.epochs),
        this._trans.__('batch %1/%2', progress.batch + 1, progress.batches)
      );
      if (progress.etaS !== null) {
        parts.push(this._trans.__('ETA %1', formatDuration(progress.etaS)));
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
    const world = Number(model.start?.world_size ?? 1);
    if (world > 1) {
      // CPU DDP is yolo-lab's own (gloo, gradients averaged per parameter);
      // it must never read as GPU DDP.
      details.push(
        model.start?.ddp === 'cpu-gloo'
          ? `DDP on the CPU: ${world} processes (gloo; not GPU DDP)`
          : `DDP: ${world} GPUs`
      );
    }
    if (params.batch_size !== undefined) {
      details.push(
        model.autobatch !== null
          ? `batch ${params.batch_size} → ${model.autobatch} (autobatch)`
          : `batch ${params.batch_size}`
      );
    }
    if (model.amp) {
      const { enabled, requested, reason } = model.amp;
      const state = enabled ? this._trans.__('on') : this._trans.__('off');
      details.push(
        requested === null
          ? this._trans.__('AMP automatic: %1 (%2)', state, reason)
          : this._trans.__('AMP %1 (%2)', state, reason)
      );
    }
    if (params.imgsz !== undefined) {
      details.push(`${params.imgsz} px`);
    }
    for (const notice of model.notices) {
      details.push(notice);
    }
    this._detail.textContent = details.join(' · ');
    this._showAdvice(model);

    // An ended run's figures as a table, its weights among them; a running
    // one's weights as a list (last.pt after each epoch).
    const table =
      model.loaded &&
      !model.active &&
      (model.summary !== null || model.epochs.length > 0);
    this._showSummary(table ? model.summaryTable() : null);

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
          problem.fix ? this._trans.__('What to do: %1', problem.fix) : ''
        )
      );
      const traceback = model.error?.traceback;
      if (traceback) {
        const details = el('details', 'yl-RunTraceback');
        const rank = model.error?.rank;
        details.append(
          el(
            'summary',
            '',
            typeof rank === 'number'
              ? this._trans.__('Traceback of rank %1', rank)
              : this._trans.__('Traceback')
          ),
          el('pre', '', traceback)
        );
        this._problem.append(details);
      }
    } else if (status === 'stopped' && model.status.message) {
      this._detail.textContent +=
        ' · ' + this._trans.__('stopped: %1', model.status.message);
    }

    this._weights.replaceChildren();
    for (const [label, path] of [
      ['last.pt', weights.last],
      ['best.pt', weights.best]
    ] as const) {
      if (path && !table) {
        const li = el('li', 'yl-RunWeight');
        li.dataset.weight = label;
        li.append(el('strong', '', `${label}: `), el('code', '', path));
        this._weights.append(li);
      }
    }
  }

  /**
   * Redraw the chart at the next frame, or, within a second of the last
   * redraw, a second after it (RUN_CHART_MIN_INTERVAL_MS).
   */
  private _schedule(): void {
    if (this.isAttached && this._model?.loaded) {
      this._chart.update();
    }
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
    if (this.isAttached && this._model?.loaded) {
      void this._chart.redraw();
    }
  }

  private _showAxis(): void {
    for (const button of this._axisButtons) {
      const pressed = button.dataset.axis === this._axis;
      button.setAttribute('aria-pressed', String(pressed));
    }
  }

  /**
   * The summary table (null: none), rebuilt only when what it shows changed:
   * an ended run's view renders on each status message.
   */
  private _showSummary(figures: IRunSummaryFigures | null): void {
    const status = this._model?.status.status ?? 'ended';
    const key = figures ? `${status} ${JSON.stringify(figures)}` : '';
    if (key === this._summaryKey) {
      return;
    }
    this._summaryKey = key;
    this._summary.hidden = figures === null;
    if (!figures) {
      this._summary.replaceChildren();
      return;
    }
    const fixed = (v: number | null, digits: number): string =>
      v === null ? '–' : v.toFixed(digits);
    const rows: Array<[string, Node | string, string?]> = [];
    if (figures.bestEpoch !== null) {
      rows.push([
        this._trans.__('best epoch'),
        figures.epochsPlanned
          ? this._trans.__(
              '%1 of %2',
              figures.bestEpoch + 1,
              figures.epochsPlanned
            )
          : String(figures.bestEpoch + 1)
      ]);
      rows.push(['mAP@0.5', fixed(figures.bestMap50, 3)]);
      rows.push(['mAP@0.5:0.95', fixed(figures.bestMap, 3)]);
    }
    const final = figures.final;
    if (final) {
      rows.push([
        this._trans.__('final validation'),
        `P ${final.precision.toFixed(3)} · R ${final.recall.toFixed(3)} · ` +
          `mAP@0.5 ${final.map50.toFixed(3)} · ` +
          `mAP@0.5:0.95 ${final.map.toFixed(3)}`
      ]);
    }
    if (figures.timeS !== null) {
      rows.push([this._trans.__('time'), formatDuration(figures.timeS)]);
    }
    if (figures.imgsPerS !== null) {
      rows.push([
        this._trans.__('images/s'),
        this._trans.__('%1 (median)', figures.imgsPerS.toFixed(1))
      ]);
    }
    for (const [label, path] of [
      ['best.pt', figures.weights.best],
      ['last.pt', figures.weights.last]
    ] as const) {
      if (path) {
        rows.push([label, el('code', '', path), label]);
      }
    }
    const body = el('tbody');
    for (const [label, value, weight] of rows) {
      const th = el('th', '', label);
      th.scope = 'row';
      const tr = el(
        'tr',
        weight ? 'yl-RunWeight' : '',
        th,
        el('td', '', value)
      );
      if (weight) {
        // As the running view's weights list: found the same way.
        tr.dataset.weight = weight;
      }
      body.append(tr);
    }
    this._summary.replaceChildren(
      el(
        'caption',
        '',
        status === 'finished'
          ? this._trans.__('Run summary')
          : this._trans.__('Run summary (%1)', status)
      ),
      body
    );
  }

  /** The advisor's verdicts: what it saw, the fix, the gain, and Apply. */
  private _showAdvice(model: RunModel): void {
    const key = JSON.stringify(model.advice);
    if (key === this._adviceKey) {
      return;
    }
    this._adviceKey = key;
    this._advice.replaceChildren(
      ...model.advice.map(verdict => {
        const li = el('li', 'yl-RunVerdict');
        li.dataset.code = verdict.code;
        li.append(
          el('strong', 'yl-VerdictTitle', this._verdictTitle(verdict.code)),
          el(
            'span',
            'yl-VerdictText',
            ' ' +
              this._trans.__(
                'Saw: %1. Fix: %2. Expect: %3.',
                verdict.saw,
                verdict.fix,
                verdict.gain
              )
          )
        );
        const apply = this._options.applyFix;
        if (verdict.form && apply) {
          const button = el(
            'button',
            'jp-Button jp-mod-minimal yl-VerdictApply',
            this._trans.__('Apply to the form')
          );
          button.type = 'button';
          button.title = this._trans.__(
            'Set %1 in the training form',
            Object.entries(verdict.form)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(', ')
          );
          button.addEventListener('click', () => apply(verdict.form!));
          li.append(button);
        }
        return li;
      })
    );
  }

  private _verdictTitle(code: string): string {
    switch (code) {
      case 'data_bound':
        return this._trans.__('Waiting for data.');
      case 'shared_memory':
        return this._trans.__('Shared memory is small.');
      case 'cpu_bound':
        return this._trans.__('Computing on the CPU.');
      case 'gpu_bound':
        return this._trans.__('The GPU is the limit.');
      case 'throttled':
        return this._trans.__('The GPU is slowed down (heat or power).');
      case 'shared_gpu':
        return this._trans.__('Another process uses this GPU.');
      default:
        return `${code}.`;
    }
  }

  private _options: IRunViewOptions;
  private _trans: TranslationBundle;
  private _stopping = false;
  private _model: RunModel | null = null;
  private _display: IRunDisplay | null = null;
  private _subscription: IDisposable | null = null;
  private _registration: IDisposable | null = null;
  private _title: HTMLSpanElement;
  private _badge: HTMLSpanElement;
  private _stop: HTMLButtonElement;
  private _resume: HTMLButtonElement;
  private _advice: HTMLUListElement;
  private _adviceKey = '';
  private _progress: HTMLDivElement;
  private _detail: HTMLDivElement;
  private _problem: HTMLDivElement;
  private _chart: PlotlyChart;
  private _axis: RunAxis = defaultAxis;
  private _axisBar: HTMLDivElement;
  private _axisButtons: HTMLButtonElement[] = [];
  private _weights: HTMLUListElement;
  private _summary: HTMLTableElement;
  private _summaryKey = '';
}
