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
import type { FormFix } from '../protocol.generated';
import { el } from '../dom';
import type { RunAxis } from './figure';
import { RunModel } from './model';
import type { IRunSummaryFigures } from './summarize';
import { verdictItems } from './runAdvice';
import { RunChart } from './runChart';
import {
  detailText,
  problemNodes,
  progressText,
  runProblem,
  weightItems
} from './runLines';
import { summaryContent } from './runSummary';
import type { IRuns } from './tokens';
import { IRunDisplay, RUN_MIME } from './types';

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
  applyFix?: (form: FormFix) => void;
}

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
    this._chart = new RunChart({
      data: () => this._model,
      live: () => this.isAttached && !!this._model?.loaded,
      trans: this._trans
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
      this._chart.axisBar,
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
    return this._chart.axis;
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
    this._chart.schedule();
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
    this._chart.schedule();
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
      : this._trans.__('waiting for a yolo-lab kernel…');
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
    this._progress.textContent = progressText(model, this._trans);
    this._showAdvice(model);

    // An ended run's figures as a table, its weights among them; a running
    // one's weights as a list (last.pt after each epoch).
    const table =
      model.loaded &&
      !model.active &&
      (model.summary !== null || model.epochs.length > 0);
    this._showSummary(table ? model.summaryTable() : null);

    const problem = runProblem(model, status);
    this._problem.replaceChildren(
      ...(problem ? problemNodes(problem, model.error, this._trans) : [])
    );
    let detail = detailText(model, display, this._trans);
    if (!problem && status === 'stopped' && model.status.message) {
      detail += ' · ' + this._trans.__('stopped: %1', model.status.message);
    }
    this._detail.textContent = detail;
    this._weights.replaceChildren(...(table ? [] : weightItems(weights)));
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
    this._summary.replaceChildren(
      ...summaryContent(figures, status, this._trans)
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
      ...verdictItems(model.advice, this._trans, this._options.applyFix)
    );
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
  private _chart: RunChart;
  private _weights: HTMLUListElement;
  private _summary: HTMLTableElement;
  private _summaryKey = '';
}
