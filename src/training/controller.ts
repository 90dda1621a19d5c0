/**
 * Where training runs go, decided once: cells in the notebook (its kernel)
 * or code run in a kernel on another server, with the run shown in a
 * main-area view. Every command that writes or runs a training cell asks
 * the form model first, so a form the sidebar refuses never becomes a cell.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { EnvironmentModel } from '../environment/model';
import type { TelemetryModel } from '../telemetry/model';
import type { IConnection, IKernelTransport } from '../tokens';
import { executeForDisplay, resumeCellText, showRunCellText } from './cells';
import {
  autotuneEnded,
  autotuneFormValues,
  findAutotune,
  type IAutotune
} from './autotune';
import {
  AUTOTUNE_BUDGET_S,
  autotuneCellText,
  cellText,
  IHardware,
  ITrainForm
} from './form';
import { FormChange, TrainFormModel } from './formModel';
import type { INotebookCells, IRuns } from './tokens';
import type { IRunDisplay, IRunSummary } from './types';

/** Options of the training controller. */
export interface ITrainingControllerOptions {
  transport: IKernelTransport;
  runs: IRuns;
  notebooks: INotebookCells;
  /** The environment (the form is checked against its GPUs). */
  environment: EnvironmentModel;
  /** Telemetry, for the free GPU memory behind the batch suggestion. */
  telemetry?: TelemetryModel | null;
  /** Show a run in a main-area view (server mode). */
  openView: (display: IRunDisplay) => void;
  trans?: TranslationBundle;
}

/** The cell of the speed table: the CPU, each GPU, and AMP with autobatch. */
export const BENCHMARK_CELL = 'import yolo_lab\n\nyolo_lab.benchmark()';

/** A command refused because the form is not valid; `messages` say why. */
export class FormInvalidError extends Error {
  constructor(readonly messages: string[]) {
    super(messages.join(' '));
  }
}

/**
 * The training feature's logic, shared by the sidebar, the toolbar, the
 * palette and the run views.
 */
export class TrainingController implements IDisposable {
  constructor(options: ITrainingControllerOptions) {
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    this.form.load(options.notebooks.loadForm());
    this.form.changed.connect(this._onFormChanged, this);
    options.notebooks.formChanged.connect(this._onNotebookForm, this);
    options.environment.changed.connect(this._updateHardware, this);
    options.telemetry?.changed.connect(this._updateHardware, this);
    options.transport.targetChanged.connect(this._onTarget, this);
    options.transport.connectionChanged.connect(this._onConnection, this);
    // Another notebook becoming current loads its form (form.changed), so
    // these cover every input of canTrain and canStop.
    this.form.changed.connect(this._emitState, this);
    options.runs.activeChanged.connect(this._emitState, this);
    options.runs.registry.changed.connect(this._emitState, this);
    options.transport.targetChanged.connect(this._emitState, this);
    this._updateHardware();
  }

  /** The form, checked against the kernel's hardware. */
  readonly form = new TrainFormModel();

  /**
   * Emits when the runs list should be read again: a kernel connected, or
   * the target changed (another machine's runs folder).
   */
  get runsStale(): ISignal<this, void> {
    return this._runsStale;
  }

  /**
   * Emits when `canTrain`, `canStop` or `refusals` may have changed: the
   * form, the current notebook, the target, or which runs are going where.
   */
  get stateChanged(): ISignal<this, void> {
    return this._stateChanged;
  }

  /** Where runs go: the notebook's kernel, or a kernel on another server. */
  get where(): 'notebook' | 'server' {
    return this._options.transport.target.kind;
  }

  /** Whether Train has somewhere to run. */
  get canTrain(): boolean {
    return this.where === 'server' || this._options.notebooks.current !== null;
  }

  /**
   * Why Train would be refused now, translated (the form's errors first);
   * empty when it would run.
   */
  get refusals(): string[] {
    if (!this.form.valid) {
      return this._formMessages();
    }
    if (!this.canTrain) {
      return [this._trans.__('Open a notebook first: the cell goes into it.')];
    }
    return [];
  }

  /** Whether Stop has a run to stop: the runs `stop()` would stop. */
  get canStop(): boolean {
    return this._stoppable().length > 0;
  }

  /** The runs list of the form's runs folder. */
  listRuns(): Promise<IRunSummary[]> {
    return this._options.runs.list(this.form.form.project || undefined);
  }

  /** Write the training cell (notebook mode only) without running it. */
  async insertCell(): Promise<void> {
    const code = this._checkedCell();
    if (this.where === 'server') {
      throw new Error(
        this._trans.__(
          "The kernel is on a Jupyter server: Train runs it there; a notebook cell would run in the notebook's kernel."
        )
      );
    }
    await this._options.notebooks.insert(code, false);
  }

  /** Write and run the training cell, or run it in the server's kernel. */
  async train(): Promise<void> {
    const code = this._checkedCell();
    await this._run(code);
  }

  /**
   * Write and run the cell that measures the course's speed table on this
   * kernel's machine (`yolo_lab.benchmark()`); it fills in as rows finish.
   */
  async benchmark(): Promise<void> {
    this._notebookOnly(
      this._trans.__(
        "The speed table is a notebook cell, and the panel's kernel is on another Jupyter server: open a notebook there, or switch the panel to the notebook's kernel."
      )
    );
    await this._options.notebooks.insert(BENCHMARK_CELL, true);
  }

  /** Seconds an autotune started here may probe for (the panel's setting). */
  autotuneBudgetS = AUTOTUNE_BUDGET_S;

  /**
   * Write and run the cell that autotunes the form's settings on its device
   * (`yolo_lab.autotune(...)`, its table filling in as probes end); when it
   * ends with a winner, put the winner in the form, unless another notebook
   * (another form) is current by then. Resolves with the autotune's data
   * (null when the cell showed none: an error or an interrupt; the cell
   * says why) and whether the form was filled.
   */
  async autotune(): Promise<{ result: IAutotune | null; applied: boolean }> {
    this._notebookOnly(
      this._trans.__(
        "Autotune is a notebook cell, and the panel's kernel is on another Jupyter server: open a notebook there, or switch the panel to the notebook's kernel."
      )
    );
    const code = this._checkedCell(form =>
      autotuneCellText(form, this.autotuneBudgetS)
    );
    const notebook = this._options.notebooks.current;
    const outputs = await this._options.notebooks.insert(code, true);
    const result = findAutotune(outputs);
    const form =
      result && autotuneEnded(result) ? autotuneFormValues(result) : null;
    const applied =
      !!form &&
      this._options.notebooks.current === notebook &&
      this.form.apply(form).length > 0;
    return { result, applied };
  }

  /** Stop the runs of the current notebook (every followed run in server mode). */
  async stop(): Promise<void> {
    const runs = this._options.runs;
    const shown = this._stoppable();
    if (!shown.length) {
      throw new Error(
        this._trans.__('No training of this notebook is running.')
      );
    }
    await Promise.all(shown.map(run => runs.stop(run)));
  }

  /**
   * Whether `kernel` (the id a run's status records) is the kernel runs go
   * to now: the notebook's, or the one on another server.
   */
  startedHere(kernel: string | null | undefined): boolean {
    const current = this._options.transport.connection.kernel;
    if (!kernel || !current) {
      return false;
    }
    return current === kernel || current.endsWith(`#${kernel}`);
  }

  /** Continue a stopped run from its last.pt. */
  async resume(run: string): Promise<void> {
    await this._run(resumeCellText(run));
  }

  /** Show a run: a cell in the notebook, or a main-area view. */
  async open(run: string): Promise<void> {
    if (this.where === 'notebook') {
      await this._options.notebooks.insert(showRunCellText(run), true);
      return;
    }
    const name = run.split('/').filter(Boolean).pop() ?? run;
    this._options.openView({ v: 1, run, name, status: 'unknown' });
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.form.dispose();
    this._options.environment.changed.disconnect(this._updateHardware, this);
    this._options.telemetry?.changed.disconnect(this._updateHardware, this);
    this._options.notebooks.formChanged.disconnect(this._onNotebookForm, this);
    this._options.transport.targetChanged.disconnect(this._onTarget, this);
    this._options.transport.targetChanged.disconnect(this._emitState, this);
    this._options.transport.connectionChanged.disconnect(
      this._onConnection,
      this
    );
    this._options.runs.activeChanged.disconnect(this._emitState, this);
    this._options.runs.registry.changed.disconnect(this._emitState, this);
    Signal.clearData(this);
  }

  /** Refuse (with `serverMessage`) unless cells go into an open notebook. */
  private _notebookOnly(serverMessage: string): void {
    if (this.where === 'server') {
      throw new Error(serverMessage);
    }
    if (!this.canTrain) {
      throw new Error(
        this._trans.__('Open a notebook first: the cell goes into it.')
      );
    }
  }

  /** The runs of the current notebook that are going (every one on a server). */
  private _stoppable(): string[] {
    const runs = this._options.runs;
    const active = new Set(runs.active());
    if (this.where === 'server') {
      return [...active];
    }
    return runs.registry
      .runsIn(this._options.notebooks.current)
      .filter(run => active.has(run));
  }

  private _formMessages(): string[] {
    return this.form.messages.map(m => this._trans.__(m));
  }

  private _checkedCell(text: (form: ITrainForm) => string = cellText): string {
    if (!this.form.valid) {
      throw new FormInvalidError(this._formMessages());
    }
    if (!this.canTrain) {
      throw new Error(
        this._trans.__('Open a notebook first: the cell goes into it.')
      );
    }
    return text(this.form.form);
  }

  private async _run(code: string): Promise<void> {
    if (this.where === 'notebook') {
      await this._options.notebooks.insert(code, true);
      return;
    }
    const display = await executeForDisplay(
      this._options.transport.execute(code)
    );
    if (display) {
      this._options.openView(display);
    }
  }

  private _onFormChanged(_: unknown, change: FormChange): void {
    if (change === 'values' || change === 'applied') {
      this._options.notebooks.saveForm(this.form.form);
    }
  }

  private _onNotebookForm(_: unknown, form: ITrainForm | null): void {
    this.form.load(form);
  }

  private _emitState(): void {
    this._stateChanged.emit();
  }

  private _onTarget(): void {
    this._runsStale.emit();
  }

  private _onConnection(_: unknown, connection: IConnection): void {
    if (connection.phase === 'connected') {
      this._runsStale.emit();
    }
  }

  private _updateHardware(): void {
    const report = this._options.environment.state.report;
    const sample = this._options.telemetry?.buffer.last ?? null;
    const hardware: IHardware = {
      gpus: (report?.gpus ?? []).map((g, i) => ({
        index: g.index,
        name: g.name,
        memoryTotalBytes: g.memory_total_bytes,
        memoryUsedBytes: sample?.gpus[i]?.mem_used_bytes ?? null
      }))
    };
    this.form.hardware = hardware;
  }

  private _options: ITrainingControllerOptions;
  private _trans: TranslationBundle;
  private _runsStale = new Signal<this, void>(this);
  private _stateChanged = new Signal<this, void>(this);
  private _isDisposed = false;
}
