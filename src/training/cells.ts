/**
 * Writing cells into the current notebook: the training cell, a resume cell
 * and a cell that shows a past run.
 */
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';
import type { INotebookCells, OutputBundles } from './tokens';
import { formFromMetadata, type ITrainForm } from './form';
import { RUN_MIME, type IRunDisplay } from './types';

/** Where a notebook keeps its training form. */
export const METADATA_KEY = 'yolo-lab';

/**
 * Put `code` in a new code cell below the active one (or in the active cell
 * when it is an empty code cell), and run it if asked.
 */
export async function insertCell(
  tracker: INotebookTracker,
  code: string,
  run: boolean
): Promise<OutputBundles> {
  const panel = tracker.currentWidget;
  if (!panel) {
    throw new Error('Open a notebook first: the cell goes into it.');
  }
  const notebook = panel.content;
  const active = notebook.activeCell;
  const reuse =
    active !== null &&
    active.model.type === 'code' &&
    active.model.sharedModel.getSource().trim() === '';
  if (!reuse) {
    NotebookActions.insertBelow(notebook);
  }
  const cell = notebook.activeCell;
  if (!cell) {
    throw new Error('The notebook has no active cell to write into.');
  }
  if (cell.model.type !== 'code') {
    NotebookActions.changeCellType(notebook, 'code');
  }
  const written = notebook.activeCell!;
  written.model.sharedModel.setSource(code);
  if (!run) {
    return [];
  }
  await NotebookActions.run(notebook, panel.sessionContext);
  // A code cell's model has its outputs (the type is the cells package's).
  const outputs = (written.model as unknown as { outputs: IOutputsLike })
    .outputs;
  const bundles: Array<Readonly<Record<string, unknown>>> = [];
  for (let i = 0; i < outputs.length; i++) {
    bundles.push(outputs.get(i).data);
  }
  return bundles;
}

/** What the controller reads of a code cell's output list. */
interface IOutputsLike {
  readonly length: number;
  get(index: number): { readonly data: Readonly<Record<string, unknown>> };
}

/** A Python string literal (a JSON string is one). */
export function pyString(text: string): string {
  return JSON.stringify(text);
}

/** The cell that resumes a run from its last.pt. */
export function resumeCellText(run: string): string {
  return `from yolo_lab import resume\n\nrun = resume(${pyString(run)})\nrun`;
}

/** The cell that shows a run (past or running). */
export function showRunCellText(run: string): string {
  return `from yolo_lab import show_run\n\nshow_run(${pyString(run)})`;
}

/**
 * Run code and return the run it displays (the output of `train(...)` or
 * `resume(...)`), or null; rejects with the kernel's error.
 */
export async function executeForDisplay(
  future: Kernel.IShellFuture<
    KernelMessage.IExecuteRequestMsg,
    KernelMessage.IExecuteReplyMsg
  >
): Promise<IRunDisplay | null> {
  let display: IRunDisplay | null = null;
  let error: string | null = null;
  future.onIOPub = msg => {
    const type = msg.header.msg_type;
    const content = msg.content as {
      data?: Record<string, unknown>;
      ename?: string;
      evalue?: string;
    };
    if (type === 'execute_result' || type === 'display_data') {
      const data = content.data?.[RUN_MIME];
      if (data) {
        display = data as IRunDisplay;
      }
    } else if (type === 'error') {
      error = `${content.ename}: ${content.evalue}`;
    }
  };
  await future.done;
  if (error) {
    throw new Error(error);
  }
  return display;
}

/**
 * The notebooks' side of training: cells written into the current notebook,
 * and the form kept in its metadata (`yolo-lab.train`), so a notebook opens
 * with the settings it was trained with.
 */
export class NotebookCells implements INotebookCells {
  constructor(tracker: INotebookTracker) {
    this._tracker = tracker;
    tracker.currentChanged.connect(this._onCurrentChanged, this);
  }

  get current(): Widget | null {
    return this._tracker.currentWidget;
  }

  get formChanged(): ISignal<this, ITrainForm | null> {
    return this._formChanged;
  }

  loadForm(): ITrainForm | null {
    const meta = this._metadata();
    return meta === null ? null : formFromMetadata(meta.train);
  }

  saveForm(form: ITrainForm): void {
    const model = this._tracker.currentWidget?.model;
    if (model) {
      model.setMetadata(METADATA_KEY, {
        ...(this._metadata() ?? {}),
        train: { ...form }
      });
    }
  }

  insert(code: string, run: boolean): Promise<OutputBundles> {
    return insertCell(this._tracker, code, run);
  }

  dispose(): void {
    this._tracker.currentChanged.disconnect(this._onCurrentChanged, this);
    Signal.clearData(this);
  }

  private _metadata(): Record<string, unknown> | null {
    const model = this._tracker.currentWidget?.model;
    if (!model) {
      return null;
    }
    const value = model.getMetadata(METADATA_KEY);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : {};
  }

  private _onCurrentChanged(_: unknown, current: NotebookPanel | null): void {
    this._formChanged.emit(this.loadForm());
    // A restored notebook is current before its file is read: read its
    // saved form once the content is there.
    void current?.context.ready.then(() => {
      if (this._tracker.currentWidget === current) {
        this._formChanged.emit(this.loadForm());
      }
    });
  }

  private _tracker: INotebookTracker;
  private _formChanged = new Signal<this, ITrainForm | null>(this);
}
