/**
 * The state shown by the yolo-lab panel, with no DOM and no I/O.
 *
 * The kernel bridge feeds events in; widgets listen to `changed`.
 */
import { ISignal, Signal } from '@lumino/signaling';
import type { IDoctorReport, IFinding } from '../protocol';

/** Where the connection to the kernel stands. */
export type Phase =
  /** No notebook, or a notebook without a kernel. */
  | 'no-kernel'
  /** Waiting for the kernel, importing yolo_lab, opening the comm. */
  | 'connecting'
  /** The comm is open; no check was asked for yet. */
  | 'connected'
  /** The doctor runs in the kernel. */
  | 'checking'
  /** A report is shown. */
  | 'ready'
  /** The kernel is restarting; the report it gave is void. */
  | 'restarting'
  /** The kernel cannot import yolo_lab. */
  | 'missing-package'
  /** The kernel is not a Python kernel. */
  | 'unsupported-kernel'
  /** Something failed; `message` says what. */
  | 'error';

/** A snapshot of the panel state. */
export interface IEnvironmentState {
  readonly phase: Phase;
  /** Display name of the attached kernel, if any. */
  readonly kernelName: string | null;
  /** Path of the notebook whose kernel is followed, if any. */
  readonly notebookPath: string | null;
  /** The last report of the attached kernel (null after a kernel change). */
  readonly report: IDoctorReport | null;
  /** What to tell the user when there is no report. */
  readonly message: string | null;
  /** The command that fixes the current problem, if there is one. */
  readonly fix: string | null;
}

/** The command that installs the kernel package, shown when it is missing. */
export const INSTALL_COMMAND = '%pip install yolo-lab';

const INITIAL: IEnvironmentState = {
  phase: 'no-kernel',
  kernelName: null,
  notebookPath: null,
  report: null,
  message: null,
  fix: null
};

/**
 * The environment model: connection phase, kernel identity and the report.
 *
 * Each kernel attachment starts a new epoch; events carrying an older epoch
 * (a late reply from a kernel that has since restarted or been replaced) are
 * ignored, so the panel never shows one kernel's report under another's name.
 */
export class EnvironmentModel {
  /** The current state. */
  get state(): IEnvironmentState {
    return this._state;
  }

  /** Emitted with the new state on every change. */
  get changed(): ISignal<this, IEnvironmentState> {
    return this._changed;
  }

  /** The epoch of the current kernel attachment. */
  get epoch(): number {
    return this._epoch;
  }

  /** Whether the model is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Findings of the current report, errors first. */
  get findings(): IFinding[] {
    const order: Record<string, number> = { error: 0, warning: 1, info: 2 };
    return [...(this._state.report?.findings ?? [])].sort(
      (a, b) => order[a.severity] - order[b.severity]
    );
  }

  /** No kernel to follow (no notebook, or it has no kernel). */
  detach(notebookPath: string | null = null): number {
    this._epoch++;
    this._set({ ...INITIAL, notebookPath });
    return this._epoch;
  }

  /** A (new) kernel is followed; returns the epoch of this attachment. */
  attach(kernelName: string, notebookPath: string | null): number {
    this._epoch++;
    this._set({
      phase: 'connecting',
      kernelName,
      notebookPath,
      report: null,
      message: null,
      fix: null
    });
    return this._epoch;
  }

  /** The attached kernel is restarting: its report no longer holds. */
  restarting(): number {
    this._epoch++;
    this._set({
      ...this._state,
      phase: 'restarting',
      report: null,
      message: null,
      fix: null
    });
    return this._epoch;
  }

  /** The comm is open and no check runs (checks on connect are off). */
  connected(epoch: number): void {
    if (epoch !== this._epoch) {
      return;
    }
    this._set({ ...this._state, phase: 'connected', message: null, fix: null });
  }

  /** The doctor was asked to run. */
  checking(epoch: number): void {
    if (epoch !== this._epoch) {
      return;
    }
    // Keep the previous report of the same kernel visible while re-checking.
    this._set({ ...this._state, phase: 'checking', message: null, fix: null });
  }

  /** A report arrived. */
  reported(epoch: number, report: IDoctorReport): void {
    if (epoch !== this._epoch) {
      return;
    }
    this._set({
      ...this._state,
      phase: 'ready',
      report,
      message: null,
      fix: null
    });
  }

  /** The kernel could not import yolo_lab. */
  missingPackage(epoch: number, detail: string): void {
    if (epoch !== this._epoch) {
      return;
    }
    this._set({
      ...this._state,
      phase: 'missing-package',
      report: null,
      message:
        `This kernel cannot import yolo_lab (${detail}). Install it into ` +
        "the kernel's environment, then restart the kernel.",
      fix: INSTALL_COMMAND
    });
  }

  /** The kernel speaks another language. */
  unsupportedKernel(epoch: number, language: string): void {
    if (epoch !== this._epoch) {
      return;
    }
    this._set({
      ...this._state,
      phase: 'unsupported-kernel',
      report: null,
      message:
        `The kernel runs ${language || 'an unknown language'}; yolo-lab ` +
        'needs a Python kernel with yolo_lab installed.',
      fix: null
    });
  }

  /** Something failed. */
  failed(epoch: number, message: string, fix: string | null = null): void {
    if (epoch !== this._epoch) {
      return;
    }
    this._set({ ...this._state, phase: 'error', message, fix });
  }

  /** Dispose of the model. */
  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    Signal.clearData(this);
  }

  private _set(state: IEnvironmentState): void {
    this._state = state;
    this._changed.emit(state);
  }

  private _state: IEnvironmentState = INITIAL;
  private _epoch = 0;
  private _isDisposed = false;
  private _changed = new Signal<this, IEnvironmentState>(this);
}
