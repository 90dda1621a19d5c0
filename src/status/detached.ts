/**
 * How many detached runs the Jupyter server keeps going, for the status
 * bar: runs that outlive their kernel are easy to forget.
 *
 * It asks the server (GET /yolo-lab/runs, which reads the server's own
 * registry), never a kernel, and only while the page is visible.
 */
import type { IDisposable } from '@lumino/disposable';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import type { IDetachedRun } from '../training/detached';

/** How often the list is read while the page is visible. */
export const DETACHED_POLL_MS = 30000;

/** Options of the detached runs count. */
export interface IDetachedCountOptions {
  /** The server's live detached runs. */
  list: () => Promise<IDetachedRun[]>;
  /** Milliseconds between reads (default {@link DETACHED_POLL_MS}). */
  intervalMs?: number;
}

/**
 * The server's live detached runs, read again every interval while the
 * page is visible; a failed read (no server extension, no permission)
 * counts as none and is tried again less and less often.
 */
export class DetachedCount implements IDisposable {
  constructor(options: IDetachedCountOptions) {
    this._list = options.list;
    const interval = options.intervalMs ?? DETACHED_POLL_MS;
    this._poll = new Poll({
      factory: () => this._read(),
      frequency: { interval, backoff: true, max: 10 * interval },
      standby: 'when-hidden',
      name: 'yolo-lab:detached-runs'
    });
  }

  /** Emits when the list of runs changes. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The live detached runs at the last read, newest first. */
  get runs(): readonly IDetachedRun[] {
    return this._runs;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  /** Read the list now (a run was started or stopped from this page). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    if (this._poll.isDisposed) {
      return;
    }
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _read(): Promise<void> {
    let runs: IDetachedRun[];
    try {
      runs = await this._list();
    } catch (reason) {
      this._set([]);
      // The poll backs off on a rejection.
      throw reason;
    }
    this._set(runs);
  }

  private _set(runs: IDetachedRun[]): void {
    const key = JSON.stringify(
      runs.map(run => [run.run, run.epochs_done, run.epochs, run.status])
    );
    if (key === this._key || this.isDisposed) {
      return;
    }
    this._key = key;
    this._runs = runs;
    this._changed.emit();
  }

  private _list: () => Promise<IDetachedRun[]>;
  private _poll: Poll;
  private _runs: IDetachedRun[] = [];
  private _key = '[]';
  private _changed = new Signal<this, void>(this);
}
