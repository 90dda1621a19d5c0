/**
 * Writing cells into the current notebook: the training cell, a resume cell
 * and a cell that shows a past run.
 */
import type { INotebookTracker } from '@jupyterlab/notebook';
import { NotebookActions } from '@jupyterlab/notebook';

/**
 * Put `code` in a new code cell below the active one (or in the active cell
 * when it is an empty code cell), and run it if asked.
 */
export async function insertCell(
  tracker: INotebookTracker,
  code: string,
  run: boolean
): Promise<void> {
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
  notebook.activeCell!.model.sharedModel.setSource(code);
  if (run) {
    await NotebookActions.run(notebook, panel.sessionContext);
  }
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
