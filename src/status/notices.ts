/**
 * Notices when a run ends: finished (its mAP), failed (what to do), stopped.
 * Deciding whether and what to say is a pure function of the run; the
 * notifier only asks whether the user already looks at the run and hands
 * the notice to JupyterLab's notifications.
 */
import { Notification } from '@jupyterlab/apputils';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import type { Widget } from '@lumino/widgets';
import type { RunModel } from '../training/model';
import type { RunRegistry } from '../training/registry';
import { baseName } from './model';
import type { RunWatch } from './watch';

/** How long a finished run's notice shows, ms. */
export const FINISHED_CLOSE_MS = 10000;

/** How long a stopped run's notice shows, ms. */
export const STOPPED_CLOSE_MS = 6000;

/** What to tell the user about a run that ended. */
export interface IRunNotice {
  /** The notification's type. */
  type: 'success' | 'error' | 'warning' | 'info';
  /** One or two sentences (JupyterLab cuts notices after 140 characters). */
  message: string;
  /** The run folder. */
  run: string;
  /** The label of the action that shows the run. */
  openLabel: string;
  /** When the toast closes by itself, ms; false keeps it until dismissed. */
  autoClose: number | false;
}

/**
 * The notice for a run that stopped going, or null: none when the user is
 * looking at the run already (`seen`), nor for a run whose state is unknown
 * (its folder could not be read: its view says so).
 */
export function runNotice(
  model: RunModel,
  seen: boolean,
  trans: TranslationBundle = nullTranslator.load('yolo_lab')
): IRunNotice | null {
  if (seen || model.active) {
    return null;
  }
  const name = model.status.name ?? baseName(model.run);
  const base = {
    run: model.run,
    openLabel: trans.__('Open')
  };
  switch (model.status.status) {
    case 'finished': {
      const best = bestMap(model);
      return {
        ...base,
        type: 'success',
        autoClose: FINISHED_CLOSE_MS,
        message: best
          ? best.map === null
            ? trans.__(
                'Run %1 finished: mAP@0.5 %2.',
                name,
                best.map50.toFixed(3)
              )
            : trans.__(
                'Run %1 finished: mAP@0.5 %2, mAP@0.5:0.95 %3.',
                name,
                best.map50.toFixed(3),
                best.map.toFixed(3)
              )
          : trans.__('Run %1 finished.', name)
      };
    }
    case 'failed': {
      const fix = model.error?.fix || model.status.fix || '';
      const message = model.error?.message || model.status.message || '';
      return {
        ...base,
        type: 'error',
        autoClose: false,
        // The fix is what the user needs; the view has the whole error.
        message: fix
          ? trans.__('Run %1 failed. What to do: %2', name, fix)
          : message
            ? trans.__('Run %1 failed: %2', name, message)
            : trans.__('Run %1 failed.', name)
      };
    }
    case 'stopped': {
      const progress = model.progress();
      return {
        ...base,
        type: 'info',
        autoClose: STOPPED_CLOSE_MS,
        message: progress
          ? trans.__(
              'Run %1 stopped at epoch %2/%3.',
              name,
              progress.epoch + 1,
              progress.epochs
            )
          : trans.__('Run %1 stopped.', name)
      };
    }
    case 'lost':
      return {
        ...base,
        type: 'warning',
        autoClose: false,
        message: trans.__('Run %1 is lost: its process is gone.', name)
      };
    default:
      return null;
  }
}

/**
 * The best mAP of a run: its final validation (YOLOv5 validates best.pt at
 * the end), else the best epoch's.
 */
export function bestMap(
  model: RunModel
): { map50: number; map: number | null } | null {
  const summary = model.summary;
  if (summary) {
    return { map50: summary.map50, map: summary.map };
  }
  let best: { map50: number; map: number | null } | null = null;
  for (const epoch of model.epochs) {
    if (epoch.map50 !== null && (!best || epoch.map50 > best.map50)) {
      best = { map50: epoch.map50, map: epoch.map };
    }
  }
  return best;
}

/**
 * Whether the user looks at `run` now: a view of it is inside the shell's
 * current widget, which is shown, in a page that is not hidden.
 */
export function isSeen(
  registry: RunRegistry,
  run: string,
  current: Widget | null,
  pageVisible: boolean
): boolean {
  return (
    pageVisible &&
    current !== null &&
    current.isVisible &&
    registry.runsIn(current).includes(run)
  );
}

/** Options of the notifier. */
export interface IRunNotifierOptions {
  /** The runs followed. */
  watch: RunWatch;
  /** The shell's current widget (what the user looks at). */
  current: () => Widget | null;
  /** Show the run (its notebook, or a view of it). */
  open: (run: string) => void;
  /** The user's language (English without one). */
  trans?: TranslationBundle;
}

/**
 * Tells the user when a run they are not looking at ends.
 */
export class RunNotifier implements IDisposable {
  constructor(options: IRunNotifierOptions) {
    this._options = options;
    this._trans = options.trans ?? nullTranslator.load('yolo_lab');
    options.watch.ended.connect(this._onEnded, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._options.watch.ended.disconnect(this._onEnded, this);
  }

  private _onEnded(watch: RunWatch, model: RunModel): void {
    const seen = isSeen(
      watch.registry,
      model.run,
      this._options.current(),
      document.visibilityState !== 'hidden'
    );
    const notice = runNotice(model, seen, this._trans);
    if (!notice) {
      return;
    }
    Notification.emit(notice.message, notice.type, {
      autoClose: notice.autoClose,
      actions: [
        {
          label: notice.openLabel,
          caption: this._trans.__('Show run %1', notice.run),
          callback: () => this._options.open(notice.run)
        }
      ]
    });
  }

  private _options: IRunNotifierOptions;
  private _trans: TranslationBundle;
  private _isDisposed = false;
}

/** What showing a run needs from the app. */
export interface IShowRunOptions {
  /** The page's run views, to find one of `run`. */
  registry: RunRegistry;
  /** The main area's widgets. */
  mainWidgets: () => Iterable<Widget>;
  /** Activate a main-area widget by id. */
  activate: (id: string) => void;
  /** Show the run afresh (the `yolo-lab:open-run` command). */
  openRun: (run: string) => Promise<unknown>;
}

/**
 * Show a run: the main-area widget (a notebook, a run view) that holds a view
 * of it, else a new view through the open-run command.
 */
export async function showRun(
  run: string,
  options: IShowRunOptions
): Promise<void> {
  for (const widget of options.mainWidgets()) {
    if (options.registry.runsIn(widget).includes(run)) {
      options.activate(widget.id);
      return;
    }
  }
  await options.openRun(run);
}
