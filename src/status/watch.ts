/**
 * The runs the page shows, followed through the models their views already
 * hold: no subscription of its own, so following them costs the kernel
 * nothing more.
 */
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { RunModel } from '../training/model';
import type { RunRegistry } from '../training/registry';

/**
 * Which of the page's runs are going, and which stopped going while watched.
 */
export class RunWatch implements IDisposable {
  constructor(registry: RunRegistry) {
    this._registry = registry;
    registry.changed.connect(this._sync, this);
    this._sync();
  }

  /** The registry whose views' models are watched. */
  get registry(): RunRegistry {
    return this._registry;
  }

  /** Emits when a watched run changes (an event, a status) or views come and go. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Emits the model of a run seen going that no longer is (finished, failed,
   * stopped, lost), once per run and end. A run whose history already ended
   * when its view opened never emits: that is no news.
   */
  get ended(): ISignal<this, RunModel> {
    return this._ended;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** One model per run going now, in the order their views registered. */
  running(): RunModel[] {
    const byRun = new Map<string, RunModel>();
    for (const model of this._models) {
      if (model.active && !byRun.has(model.run)) {
        byRun.set(model.run, model);
      }
    }
    return [...byRun.values()];
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._registry.changed.disconnect(this._sync, this);
    for (const model of this._models) {
      model.changed.disconnect(this._onModel, this);
    }
    this._models.clear();
    this._going.clear();
    Signal.clearData(this);
  }

  private _sync(): void {
    const now = new Set(this._registry.models());
    for (const model of this._models) {
      if (!now.has(model)) {
        model.changed.disconnect(this._onModel, this);
        this._models.delete(model);
      }
    }
    for (const model of now) {
      if (!this._models.has(model)) {
        this._models.add(model);
        model.changed.connect(this._onModel, this);
        // A second view of a run already watched keeps the run's state.
        if (model.loaded && !this._going.has(model.run)) {
          this._going.set(model.run, model.active);
        }
      }
    }
    const runs = new Set([...this._models].map(model => model.run));
    for (const run of [...this._going.keys()]) {
      if (!runs.has(run)) {
        this._going.delete(run);
      }
    }
    this._changed.emit();
  }

  private _onModel(model: RunModel): void {
    const was = this._going.get(model.run) ?? false;
    const now = model.active;
    this._going.set(model.run, now);
    if (was && !now) {
      this._ended.emit(model);
    }
    this._changed.emit();
  }

  private _registry: RunRegistry;
  private _models = new Set<RunModel>();
  /** Whether each watched run was going at its last event. */
  private _going = new Map<string, boolean>();
  private _changed = new Signal<this, void>(this);
  private _ended = new Signal<this, RunModel>(this);
  private _isDisposed = false;
}
