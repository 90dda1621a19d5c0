/**
 * The training feature's tokens.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';
import type { ITrainForm } from './form';
import type { RunRegistry } from './registry';
import type { IRunStopResultMessage, IRunSummary, RunListener } from './types';

/** Runs followed through the transport. Provided by `yolo-lab:runs`. */
export interface IRuns {
  /** Listen to a run's events (history first) until disposed. */
  listen(run: string, listener: RunListener): IDisposable;
  /** Ask a run to stop after its current batch (last.pt is saved). */
  stop(run: string): Promise<IRunStopResultMessage>;
  /** The runs of a project folder (default runs/train), newest first. */
  list(project?: string): Promise<IRunSummary[]>;
  /** Runs shown somewhere (their views listen) that are still going. */
  active(): string[];
  /** Emits when a followed run starts or stops going. */
  readonly activeChanged: ISignal<IRuns, void>;
  /** Which runs the page's views show, and where. */
  readonly registry: RunRegistry;
}

/** The runs token. */
export const IRuns = new Token<IRuns>(
  'yolo-lab:IRuns',
  'Live training runs followed through the kernel yolo-lab is connected to.'
);

/** The MIME bundles of a cell's outputs, in order. */
export type OutputBundles = ReadonlyArray<Readonly<Record<string, unknown>>>;

/** The notebook side: its cells and the form kept in its metadata. */
export interface INotebookCells {
  /** The current notebook's widget, or null. */
  readonly current: Widget | null;
  /** Emits when another notebook's form should be shown. */
  readonly formChanged: ISignal<unknown, ITrainForm | null>;
  /** The current notebook's saved form (null: no notebook). */
  loadForm(): ITrainForm | null;
  /** Keep the form in the current notebook. */
  saveForm(form: ITrainForm): void;
  /**
   * Write `code` below the active cell; run it if asked, and resolve with
   * the data of the cell's outputs once it has run ([] when not run).
   */
  insert(code: string, run: boolean): Promise<OutputBundles>;
}
