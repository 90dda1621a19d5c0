/**
 * The running mark on notebook tabs: a notebook whose outputs show a run
 * that is going carries a class on its title (drawn as a dot on its tab)
 * and a line in its caption (the tab's tooltip, read by screen readers).
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import type { Title, Widget } from '@lumino/widgets';
import type { IRuns } from './tokens';

/** The class a running notebook's title carries. */
export const RUNNING_CLASS = 'yl-mod-training';

/** The open notebooks (the notebook tracker is one). */
export interface INotebookPanels {
  forEach(fn: (panel: Widget) => void): void;
}

/** Options of the running marks. */
export interface IRunningMarksOptions {
  panels: INotebookPanels;
  runs: Pick<IRuns, 'active' | 'activeChanged' | 'registry'>;
  trans?: TranslationBundle;
}

/**
 * Marks the title of every notebook that shows a run that is going, and
 * unmarks it when the run ends or its view goes.
 *
 * The marks follow the runs client (which runs are going) and the registry
 * (which notebook shows which run); a notebook without run views needs no
 * signal of its own. JupyterLab rewrites a document's caption when it is
 * saved, so the caption line is put back when the title changes.
 */
export class RunningMarks implements IDisposable {
  constructor(options: IRunningMarksOptions) {
    this._options = options;
    const trans = options.trans ?? nullTranslator.load('yolo_lab');
    this._hint = trans.__('Training: a run is going');
    options.runs.activeChanged.connect(this.update, this);
    options.runs.registry.changed.connect(this.update, this);
    this.update();
  }

  /** Whether `panel` carries the running mark. */
  isMarked(panel: Widget): boolean {
    return this._marked.has(panel);
  }

  /** Mark the notebooks with a run going, unmark the others. */
  update(): void {
    if (this._isDisposed) {
      return;
    }
    const { runs, panels } = this._options;
    const active = new Set(runs.active());
    const running = new Set<Widget>();
    if (active.size) {
      panels.forEach(panel => {
        if (runs.registry.runsIn(panel).some(run => active.has(run))) {
          running.add(panel);
        }
      });
    }
    for (const panel of [...this._marked]) {
      if (!running.has(panel)) {
        this._unmark(panel);
      }
    }
    for (const panel of running) {
      if (!this._marked.has(panel)) {
        this._mark(panel);
      }
    }
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    for (const panel of [...this._marked]) {
      this._unmark(panel);
    }
    this._isDisposed = true;
    this._options.runs.activeChanged.disconnect(this.update, this);
    this._options.runs.registry.changed.disconnect(this.update, this);
    Signal.clearData(this);
  }

  private _mark(panel: Widget): void {
    this._marked.add(panel);
    this._apply(panel.title, true);
    panel.title.changed.connect(this._onTitle, this);
  }

  private _unmark(panel: Widget): void {
    this._marked.delete(panel);
    panel.title.changed.disconnect(this._onTitle, this);
    if (!panel.isDisposed) {
      this._apply(panel.title, false);
    }
  }

  /** Put the mark back after someone else set the caption or class. */
  private _onTitle(title: Title<Widget>): void {
    this._apply(title, true);
  }

  /** Set or clear the mark; a title's setters ignore unchanged values. */
  private _apply(title: Title<Widget>, on: boolean): void {
    const classes = title.className
      .split(/\s+/)
      .filter(name => name && name !== RUNNING_CLASS);
    if (on) {
      classes.push(RUNNING_CLASS);
    }
    title.className = classes.join(' ');
    const line = `\n${this._hint}`;
    let caption = title.caption;
    if (caption === this._hint) {
      caption = '';
    } else if (caption.endsWith(line)) {
      caption = caption.slice(0, -line.length);
    }
    if (on) {
      caption = caption ? caption + line : this._hint;
    }
    title.caption = caption;
  }

  private _options: IRunningMarksOptions;
  private _hint: string;
  private _marked = new Set<Widget>();
  private _isDisposed = false;
}
