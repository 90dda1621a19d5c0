/**
 * The Training section's buttons: insert the training cell, train, stop;
 * and the measurements, the speed table and autotune (which probes, then
 * puts the fastest settings in the form).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { el } from '../dom';
import { autotuneOutcome } from './autotune';
import type { TrainingController } from './controller';

/** Options of the section's buttons. */
export interface ITrainActionsOptions {
  controller: TrainingController;
  trans: TranslationBundle;
  /** Run an action of the section, saying why it failed. */
  act: (action: () => Promise<void>) => Promise<void>;
  /** Say something in the section's message line. */
  say: (text: string) => void;
}

/** The buttons (`node`); the form's validity enables those that need it. */
export class TrainActions {
  constructor(options: ITrainActionsOptions) {
    const { controller, trans, act } = options;
    this._controller = controller;
    this._trans = trans;
    this._say = options.say;
    this._insert = el(
      'button',
      'jp-Button jp-mod-styled yl-InsertCell',
      trans.__('Insert training cell')
    );
    this._train = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-accept yl-Train',
      trans.__('Train')
    );
    this._stop = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-warn yl-StopTraining',
      trans.__('Stop')
    );
    this._autotune = el(
      'button',
      'jp-Button jp-mod-styled yl-Autotune',
      trans.__('Autotune')
    );
    const bar = el('div', 'yl-TrainButtons');
    this._insert.type = this._train.type = this._stop.type = 'button';
    this._insert.addEventListener(
      'click',
      () => void act(() => controller.insertCell())
    );
    this._train.addEventListener(
      'click',
      () => void act(() => controller.train())
    );
    this._stop.addEventListener(
      'click',
      () => void act(() => controller.stop())
    );
    bar.append(this._insert, this._train, this._stop);
    const measure = el('div', 'yl-MeasureButtons');
    const bench = el(
      'button',
      'jp-Button jp-mod-styled yl-Benchmark',
      trans.__('Speed table')
    );
    bench.type = 'button';
    bench.title = trans.__(
      'Train one epoch on the CPU and on each GPU here (and with AMP), and show how many times faster each is'
    );
    bench.addEventListener(
      'click',
      () => void act(() => controller.benchmark())
    );
    this._autotune.type = 'button';
    this._autotune.title = trans.__(
      'Probe batch size, workers, cache (and AMP on a GPU) for a short while on this machine, show the table as it fills, and put the fastest in this form'
    );
    this._autotune.addEventListener('click', () => void this._runAutotune());
    measure.append(bench, this._autotune);
    this.node.append(bar, measure);
  }

  /** The buttons: the training bar, then the measurements. */
  readonly node = el('div', 'yl-TrainActions');

  /** Disable the buttons that write or run a cell while the form is invalid. */
  setInvalid(invalid: boolean): void {
    for (const button of [this._insert, this._train, this._autotune]) {
      button.disabled = invalid;
    }
  }

  /** Stop acts only on a run of this notebook (or target) that is going. */
  showStop(): void {
    const can = this._controller.canStop;
    this._stop.disabled = !can;
    this._stop.title = can
      ? this._trans.__(
          'Stop the running training after its current batch (last.pt is saved)'
        )
      : this._trans.__('No training of this notebook is running.');
  }

  private async _runAutotune(): Promise<void> {
    this._autotune.disabled = true;
    this._say(
      this._trans.__('Autotune is probing: its table fills in below the cell.')
    );
    try {
      const { result, applied } = await this._controller.autotune();
      this._say(autotuneOutcome(this._trans, result, applied));
    } catch (reason) {
      this._say(String(reason));
    } finally {
      this._autotune.disabled = !this._controller.form.valid;
    }
  }

  private _controller: TrainingController;
  private _trans: TranslationBundle;
  private _say: (text: string) => void;
  private _insert: HTMLButtonElement;
  private _train: HTMLButtonElement;
  private _stop: HTMLButtonElement;
  private _autotune: HTMLButtonElement;
}
