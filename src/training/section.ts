/**
 * The training part of the sidebar: the knobs that decide speed (device,
 * batch size, AMP, workers...), the buttons that write and run the training
 * cell, and the runs of the runs/ folder.
 *
 * A view of the training controller: the values and their checks live in
 * its form model, the actions in the controller. The parts: the form
 * (sectionForm.ts), the buttons and autotune (sectionActions.ts), the runs
 * list (sectionRuns.ts).
 */
import type { ServerConnection } from '@jupyterlab/services';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { el } from '../dom';
import type { TrainingController } from './controller';
import {
  fetchDetachedRuns,
  type IDetachedRun,
  stopDetachedRun
} from './detached';
import { TrainActions } from './sectionActions';
import { TrainFormView } from './sectionForm';
import { RunsList } from './sectionRuns';

/** Options of the training section. */
export interface ITrainSectionOptions {
  controller: TrainingController;
  /** The path of the file selected in the file browser, if any. */
  selectedFile: () => string | null;
  trans?: TranslationBundle;
  /**
   * JupyterLab's server (`app.serviceManager.serverSettings`), whose
   * extension lists and stops the detached runs.
   */
  serverSettings: ServerConnection.ISettings;
  /** The live detached runs (default: the server extension's list). */
  listDetached?: () => Promise<IDetachedRun[]>;
  /** Stop a detached run (default: through the server extension). */
  stopDetached?: (run: string) => Promise<void>;
}

/**
 * The training form, its buttons and the runs list.
 */
export class TrainSection extends Widget {
  constructor(options: ITrainSectionOptions) {
    super();
    const controller = (this._controller = options.controller);
    const trans = options.trans ?? nullTranslator.load('yolo_lab');
    const act = (action: () => Promise<void>) => this._act(action);
    const say = (text: string) => (this._message.textContent = text);
    this._actions = new TrainActions({ controller, trans, act, say });
    this._form = new TrainFormView({
      model: controller.form,
      selectedFile: options.selectedFile,
      trans,
      invalid: invalid => this._actions.setInvalid(invalid)
    });
    this._runs = new RunsList({
      controller,
      trans,
      listDetached:
        options.listDetached ??
        (() => fetchDetachedRuns(options.serverSettings)),
      stopDetached:
        options.stopDetached ??
        (run => stopDetachedRun(options.serverSettings, run)),
      act,
      message: this._message
    });
    this.addClass('yl-TrainSection');
    this.node.append(
      el('h3', 'yl-SectionTitle', trans.__('Training')),
      this._form.node,
      this._form.errorsNode,
      this._actions.node,
      this._runs.head,
      this._runs.node
    );
    controller.runsStale.connect(this._onRunsStale, this);
    controller.stateChanged.connect(this._showStop, this);
    this._form.render();
    this._showStop();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._form.dispose();
    this._controller.runsStale.disconnect(this._onRunsStale, this);
    this._controller.stateChanged.disconnect(this._showStop, this);
    super.dispose();
  }

  /**
   * List the live detached runs (from the Jupyter server, whatever their
   * folder) and the runs of the form's runs folder (through the kernel).
   */
  async refreshRuns(): Promise<void> {
    await this._runs.refresh();
  }

  private _onRunsStale(): void {
    void this.refreshRuns();
  }

  private _showStop(): void {
    this._actions.showStop();
  }

  private async _act(action: () => Promise<void>): Promise<void> {
    try {
      await action();
      this._message.textContent = '';
    } catch (reason) {
      this._message.textContent = String(reason);
    }
  }

  private _controller: TrainingController;
  private _form: TrainFormView;
  private _actions: TrainActions;
  private _runs: RunsList;
  private _message = el('span', 'yl-TrainMessage');
}
