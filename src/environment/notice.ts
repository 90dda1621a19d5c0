/**
 * A notice when a kernel's check finds an error (no GPU where one is
 * expected, a CUDA build that cannot run, ...) while the panel is closed:
 * the finding and its fix would otherwise wait unseen in the sidebar.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import type { EnvironmentModel, IEnvironmentState } from './model';

/** What the notice says, and which findings it stands for. */
export interface IDoctorNotice {
  message: string;
  /** The kernel and its error findings: one notice each. */
  key: string;
}

/**
 * The notice for a state, or null: only for a report (or a kernel that
 * cannot import yolo_lab) with an error.
 */
export function doctorNotice(
  state: IEnvironmentState,
  trans: TranslationBundle = nullTranslator.load('yolo_lab')
): IDoctorNotice | null {
  const kernel = `${state.notebookPath ?? ''}|${state.kernelName ?? ''}`;
  if (state.phase === 'missing-package') {
    return {
      key: `${kernel}|missing-package`,
      message: trans.__(
        'yolo-lab: this kernel cannot import yolo_lab. Fix: %1',
        state.fix ?? ''
      )
    };
  }
  const errors = (state.report?.findings ?? []).filter(
    f => f.severity === 'error'
  );
  if (state.phase !== 'ready' || errors.length === 0) {
    return null;
  }
  const first = errors[0];
  const more =
    errors.length > 1 ? trans.__(' (+%1 more errors)', errors.length - 1) : '';
  return {
    key: `${kernel}|${errors.map(f => f.id).join(',')}`,
    message: trans.__('%1%2. Fix: %3', first.title, more, first.fix)
  };
}

/** Options of the doctor notices. */
export interface IDoctorNoticesOptions {
  /** Whether the user sees the environment already (the panel is open). */
  seen: () => boolean;
  /** Show the notice, with an action that opens the panel. */
  notify: (notice: IDoctorNotice) => void;
  trans?: TranslationBundle;
}

/** Tells each kernel's errors once, unless the panel shows them. */
export class DoctorNotices implements IDisposable {
  constructor(model: EnvironmentModel, options: IDoctorNoticesOptions) {
    this._model = model;
    this._options = options;
    model.changed.connect(this._onChanged, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._onChanged, this);
  }

  private _onChanged(_: EnvironmentModel, state: IEnvironmentState): void {
    const notice = doctorNotice(state, this._options.trans);
    if (!notice || this._told.has(notice.key)) {
      return;
    }
    // Seen in the panel counts as told: a re-check does not pop it up.
    this._told.add(notice.key);
    if (!this._options.seen()) {
      this._options.notify(notice);
    }
  }

  private _model: EnvironmentModel;
  private _options: IDoctorNoticesOptions;
  private _told = new Set<string>();
  private _isDisposed = false;
}
