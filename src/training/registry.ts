/**
 * Which runs are shown where: every run view registers itself, so a command
 * can ask which runs a notebook shows without searching its DOM.
 */
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';
import type { RunModel } from './model';

/**
 * The run views of the page, by run folder.
 */
export class RunRegistry {
  /** Emits when a view is added or removed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * A view shows `run` until the handle is disposed; with the model it feeds,
   * others (the status bar, the notices) can follow the run without
   * subscribing to it again.
   */
  add(run: string, view: Widget, model?: RunModel): IDisposable {
    const entry: IEntry = { run, view, model: model ?? null };
    this._entries.add(entry);
    this._changed.emit();
    return new DisposableDelegate(() => {
      if (this._entries.delete(entry)) {
        this._changed.emit();
      }
    });
  }

  /**
   * The runs shown inside `container` (a notebook panel, say), found by
   * walking each view's widget parents; every run shown when null.
   */
  runsIn(container: Widget | null): string[] {
    const runs = new Set<string>();
    for (const { run, view } of this._entries) {
      if (container === null || isInside(view, container)) {
        runs.add(run);
      }
    }
    return [...runs];
  }

  /** The models the registered views hold, in the order they registered. */
  models(): RunModel[] {
    const models: RunModel[] = [];
    for (const { model } of this._entries) {
      if (model) {
        models.push(model);
      }
    }
    return models;
  }

  private _entries = new Set<IEntry>();
  private _changed = new Signal<this, void>(this);
}

interface IEntry {
  run: string;
  view: Widget;
  model: RunModel | null;
}

function isInside(widget: Widget, container: Widget): boolean {
  for (let w: Widget | null = widget; w; w = w.parent) {
    if (w === container) {
      return true;
    }
  }
  return false;
}
