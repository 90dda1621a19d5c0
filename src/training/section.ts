/**
 * The training part of the sidebar: the knobs that decide speed (device,
 * batch size, AMP, workers...), the buttons that write and run the training
 * cell, and the runs of the runs/ folder.
 *
 * A view of the training controller: the values and their checks live in
 * its form model, the actions in the controller.
 */
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import { el } from '../dom';
import { autotuneOutcome } from './autotune';
import type { TrainingController } from './controller';
import {
  fetchDetachedRuns,
  type IDetachedRun,
  stopDetachedRun
} from './detached';
import { type AmpChoice, gpuIndices, ITrainForm, MODEL_CFGS } from './form';
import type { FormChange } from './formModel';
import type { IRunSummary } from './types';

/** Options of the training section. */
export interface ITrainSectionOptions {
  controller: TrainingController;
  /** The path of the file selected in the file browser, if any. */
  selectedFile: () => string | null;
  trans?: TranslationBundle;
  /** The live detached runs (default: the server extension's list). */
  listDetached?: () => Promise<IDetachedRun[]>;
  /** Stop a detached run (default: through the server extension). */
  stopDetached?: (run: string) => Promise<void>;
}

/** Ids of the form's hints (aria-describedby), unique in the page. */
let hintIds = 0;

/**
 * The training form, its buttons and the runs list.
 */
export class TrainSection extends Widget {
  constructor(options: ITrainSectionOptions) {
    super();
    this._controller = options.controller;
    this._selectedFile = options.selectedFile;
    this._listDetached = options.listDetached ?? (() => fetchDetachedRuns());
    this._stopDetached = options.stopDetached ?? (run => stopDetachedRun(run));
    const trans = (this._trans =
      options.trans ?? nullTranslator.load('yolo_lab'));
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
    this._stopButton = el(
      'button',
      'jp-Button jp-mod-styled jp-mod-warn yl-StopTraining',
      trans.__('Stop')
    );
    this._autotune = el(
      'button',
      'jp-Button jp-mod-styled yl-Autotune',
      trans.__('Autotune')
    );
    this.addClass('yl-TrainSection');
    this.node.append(
      el('h3', 'yl-SectionTitle', trans.__('Training')),
      this._formNode,
      this._errorsNode,
      this._buttons(),
      this._runsHead(),
      this._runsNode
    );
    this._controller.form.changed.connect(this._onFormChanged, this);
    this._controller.runsStale.connect(this._onRunsStale, this);
    this._controller.stateChanged.connect(this._showStop, this);
    this._render();
    this._showStop();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._controller.form.changed.disconnect(this._onFormChanged, this);
    this._controller.runsStale.disconnect(this._onRunsStale, this);
    this._controller.stateChanged.disconnect(this._showStop, this);
    super.dispose();
  }

  private get _form(): ITrainForm {
    return this._controller.form.form;
  }

  private _onFormChanged(_: unknown, change: FormChange): void {
    if (change === 'loaded' || change === 'applied') {
      this._render();
      return;
    }
    if (change === 'hardware') {
      const key = JSON.stringify(
        this._controller.form.hardware.gpus.map(g => [g.index, g.name])
      );
      if (key !== this._hwKey) {
        this._hwKey = key;
        this._render();
        return;
      }
    }
    if (this._trust) {
      this._trust.checked = this._form.trustWeights;
      const row = this._trust.closest<HTMLElement>('.yl-FormRow');
      if (row) {
        row.hidden = !this._form.weights.trim();
      }
    }
    this._showErrors();
    this._showSuggestion();
  }

  private _onRunsStale(): void {
    void this.refreshRuns();
  }

  private _set<K extends keyof ITrainForm>(key: K, value: ITrainForm[K]): void {
    this._controller.form.set(key, value);
  }

  private _field(
    label: string,
    key: keyof ITrainForm,
    control: HTMLElement,
    hint?: string
  ): HTMLElement {
    // A group (the device checkboxes, each with its own label) sits in a
    // plain row: labels do not nest.
    const group = control.getAttribute('role') === 'group';
    const row = el(group ? 'div' : 'label', 'yl-FormRow');
    row.dataset.field = key;
    const name = this._trans.__(label);
    row.append(el('span', 'yl-FormLabel', name), control);
    // The control's name is the label alone (not its hint, not a button in
    // the row); the hint describes it.
    const inside = control.querySelectorAll<HTMLElement>('input, select');
    const input = control.matches('input, select')
      ? control
      : group
        ? control // a group of checkboxes: the group is named
        : inside.length === 1
          ? inside[0]
          : null;
    if (input && !input.hasAttribute('aria-label')) {
      input.setAttribute('aria-label', name);
    }
    if (hint) {
      const note = el('span', 'yl-FormHint', this._trans.__(hint));
      note.id = `yl-hint-${key}-${++hintIds}`;
      input?.setAttribute('aria-describedby', note.id);
      row.append(note);
    }
    return row;
  }

  private _text(key: keyof ITrainForm, placeholder = ''): HTMLInputElement {
    const input = el('input', 'jp-mod-styled yl-FormInput');
    input.type = 'text';
    input.name = key;
    input.placeholder = placeholder && this._trans.__(placeholder);
    input.value = String(this._form[key]);
    input.addEventListener('input', () => this._set(key, input.value as never));
    return input;
  }

  private _render(): void {
    const trans = this._trans;
    const form = this._form;
    const hw = this._controller.form.hardware;
    const nodes: HTMLElement[] = [];

    // Device: cpu or GPUs; several GPUs together train with DDP.
    const devices = el('div', 'yl-Devices');
    devices.setAttribute('role', 'group');
    const options = ['cpu', ...hw.gpus.map(g => `cuda:${g.index}`)];
    for (const d of new Set([...options, ...form.devices])) {
      const box = el('input');
      box.type = 'checkbox';
      box.name = 'device';
      box.value = d;
      box.checked = form.devices.includes(d);
      box.addEventListener('change', () => {
        let next = form.devices.filter(x => x !== d);
        if (box.checked) {
          // cpu and GPUs exclude each other.
          next = d === 'cpu' ? ['cpu'] : [...next.filter(x => x !== 'cpu'), d];
        }
        this._set('devices', next);
        this._render();
      });
      const gpu = hw.gpus.find(g => `cuda:${g.index}` === d);
      const label = el('label', 'yl-Device');
      label.append(box, ` ${d}${gpu ? ` (${gpu.name})` : ''}`);
      devices.append(label);
    }
    nodes.push(
      this._field(
        'Device',
        'devices',
        devices,
        'Several GPUs = DDP (torch.distributed.run).'
      )
    );

    if (!gpuIndices(form.devices).length) {
      nodes.push(
        this._field(
          'Processes',
          'nproc',
          this._text('nproc'),
          'Above 1: DDP on the CPU (gloo), to show DDP without GPUs.'
        )
      );
    }

    const batch = this._text('batchSize', '16 or auto');
    this._suggestion = el('span', 'yl-FormHint yl-Suggestion');
    const batchRow = this._field('Batch size', 'batchSize', batch);
    batchRow.append(this._suggestion);
    nodes.push(batchRow);

    // Three choices, as train() takes them: automatic (None) or forced.
    const amp = el('select', 'jp-mod-styled yl-FormInput');
    amp.name = 'amp';
    const ampChoices: Array<[string, AmpChoice, string]> = [
      ['auto', null, trans.__('Automatic')],
      ['on', true, trans.__('On')],
      ['off', false, trans.__('Off')]
    ];
    for (const [value, choice, label] of ampChoices) {
      const option = el('option', '', label);
      option.value = value;
      option.selected = choice === form.amp;
      amp.append(option);
    }
    amp.addEventListener('change', () => {
      const chosen = ampChoices.find(([value]) => value === amp.value);
      this._set('amp', chosen ? chosen[1] : null);
    });
    nodes.push(
      this._field(
        'AMP',
        'amp',
        amp,
        'Mixed precision (CUDA only). Automatic: on with a GPU once an offline check passes, off on the CPU.'
      )
    );
    nodes.push(this._field('Epochs', 'epochs', this._text('epochs')));
    nodes.push(this._field('Image size', 'imgsz', this._text('imgsz')));
    nodes.push(this._field('Workers', 'workers', this._text('workers')));
    const detach = el('input');
    detach.type = 'checkbox';
    detach.name = 'detach';
    detach.checked = form.detach;
    detach.addEventListener('change', () =>
      this._set('detach', detach.checked)
    );
    nodes.push(
      this._field(
        'Keep running when the kernel stops',
        'detach',
        detach,
        'The Jupyter server owns the run: it survives kernel restarts and closed tabs.'
      )
    );

    const dataRow = el('div', 'yl-DataPick');
    const data = this._text('data', 'path/to/data.yaml');
    const pick = el(
      'button',
      'jp-Button jp-mod-styled yl-UseSelected',
      trans.__('Use selected')
    );
    pick.type = 'button';
    pick.title = trans.__('Use the .yaml file selected in the file browser');
    pick.addEventListener('click', () => {
      const path = this._selectedFile();
      if (path) {
        data.value = path;
        this._set('data', path);
      }
    });
    dataRow.append(data, pick);
    nodes.push(this._field('Dataset yaml', 'data', dataRow));

    const model = el('select', 'jp-mod-styled yl-FormInput');
    model.name = 'model';
    for (const cfg of ['', ...MODEL_CFGS]) {
      const option = el('option', '', cfg || trans.__('(from the weights)'));
      option.value = cfg;
      option.selected = cfg === form.model;
      model.append(option);
    }
    model.addEventListener('change', () => this._set('model', model.value));
    nodes.push(this._field('Model cfg', 'model', model));
    nodes.push(
      this._field(
        'Weights',
        'weights',
        this._text('weights', 'none: from scratch')
      )
    );
    // A .pt file is a pickle: by default only a checkpoint's own classes
    // load; trusting the file lets it run code (train()'s trust_weights).
    const trust = el('input');
    trust.type = 'checkbox';
    trust.name = 'trustWeights';
    trust.checked = form.trustWeights;
    trust.addEventListener('change', () =>
      this._set('trustWeights', trust.checked)
    );
    this._trust = trust;
    const trustRow = this._field(
      'Trust this weights file',
      'trustWeights',
      trust,
      'Loads it in full: a .pt file can run code as you. Only for files you made or know the source of.'
    );
    // Shown only with a weights file: there is nothing to trust without one.
    trustRow.hidden = !form.weights.trim();
    nodes.push(trustRow);

    const cache = el('select', 'jp-mod-styled yl-FormInput');
    cache.name = 'cache';
    for (const c of ['none', 'ram', 'disk']) {
      const option = el('option', '', c);
      option.value = c;
      option.selected = c === form.cache;
      cache.append(option);
    }
    cache.addEventListener('change', () =>
      this._set('cache', cache.value as ITrainForm['cache'])
    );
    nodes.push(this._field('Cache images', 'cache', cache));
    nodes.push(this._field('Run name', 'name', this._text('name')));
    nodes.push(this._field('Runs folder', 'project', this._text('project')));
    nodes.push(
      this._field(
        'YOLOv5 checkout',
        'yolov5Dir',
        this._text('yolov5Dir', 'none: the yolov5 package')
      )
    );
    this._formNode.replaceChildren(...nodes);
    this._showErrors();
    this._showSuggestion();
  }

  private _showErrors(): void {
    const errors = this._controller.form.errors;
    const items = Object.entries(errors);
    this._errorsNode.replaceChildren(
      ...items.map(([field, text]) => {
        const li = el('li', 'yl-FormError', this._trans.__(text ?? ''));
        li.dataset.field = field;
        return li;
      })
    );
    this._errorsNode.hidden = items.length === 0;
    this._formNode
      .querySelectorAll<HTMLElement>('.yl-FormRow')
      .forEach(row =>
        row.classList.toggle(
          'yl-mod-invalid',
          (row.dataset.field ?? '') in errors
        )
      );
    for (const button of [this._insert, this._train, this._autotune]) {
      button.disabled = items.length > 0;
    }
  }

  /** Stop acts only on a run of this notebook (or target) that is going. */
  private _showStop(): void {
    const can = this._controller.canStop;
    this._stopButton.disabled = !can;
    this._stopButton.title = can
      ? this._trans.__(
          'Stop the running training after its current batch (last.pt is saved)'
        )
      : this._trans.__('No training of this notebook is running.');
  }

  private _showSuggestion(): void {
    if (!this._suggestion) {
      return;
    }
    const n = this._controller.form.suggestion;
    this._suggestion.textContent =
      n === null
        ? ''
        : this._trans.__(
            'Suggested from free GPU memory: about %1 (an estimate; auto measures).',
            n
          );
  }

  private _buttons(): HTMLElement {
    const bar = el('div', 'yl-TrainButtons');
    this._insert.type = this._train.type = this._stopButton.type = 'button';
    this._insert.addEventListener(
      'click',
      () => void this._act(() => this._controller.insertCell())
    );
    this._train.addEventListener(
      'click',
      () => void this._act(() => this._controller.train())
    );
    this._stopButton.addEventListener(
      'click',
      () => void this._act(() => this._controller.stop())
    );
    bar.append(this._insert, this._train, this._stopButton);
    const measure = el('div', 'yl-MeasureButtons');
    const bench = el(
      'button',
      'jp-Button jp-mod-styled yl-Benchmark',
      this._trans.__('Speed table')
    );
    bench.type = 'button';
    bench.title = this._trans.__(
      'Train one epoch on the CPU and on each GPU here (and with AMP), and show how many times faster each is'
    );
    bench.addEventListener(
      'click',
      () => void this._act(() => this._controller.benchmark())
    );
    this._autotune.type = 'button';
    this._autotune.title = this._trans.__(
      'Probe batch size, workers, cache (and AMP on a GPU) for a short while on this machine, show the table as it fills, and put the fastest in this form'
    );
    this._autotune.addEventListener('click', () => void this._runAutotune());
    measure.append(bench, this._autotune);
    const box = el('div', 'yl-TrainActions');
    box.append(bar, measure);
    return box;
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

  private async _act(action: () => Promise<void>): Promise<void> {
    try {
      await action();
      this._say('');
    } catch (reason) {
      this._say(String(reason));
    }
  }

  private _say(text: string): void {
    this._message.textContent = text;
  }

  private _runsHead(): HTMLElement {
    const head = el('div', 'yl-RunsHead');
    const refresh = el(
      'button',
      'jp-Button jp-mod-minimal yl-RunsRefresh',
      this._trans.__('Refresh')
    );
    refresh.type = 'button';
    refresh.addEventListener('click', () => void this.refreshRuns());
    head.append(
      el('h3', 'yl-SectionTitle', this._trans.__('Runs')),
      refresh,
      this._message
    );
    return head;
  }

  /**
   * List the live detached runs (from the Jupyter server, whatever their
   * folder) and the runs of the form's runs folder (through the kernel).
   */
  async refreshRuns(): Promise<void> {
    const [local, detached] = await Promise.all([
      this._controller.listRuns().then(
        runs => ({ runs, error: null }),
        (reason: unknown) => ({
          runs: [] as IRunSummary[],
          error: String(reason)
        })
      ),
      // Without the server extension there are no detached runs to show.
      this._listDetached().catch(() => [] as IDetachedRun[])
    ]);
    const live = new Set(detached.map(run => run.run));
    const runs: IRunSummary[] = [
      ...detached,
      ...local.runs.filter(run => !live.has(run.run))
    ];
    if (!runs.length) {
      this._runsNode.replaceChildren(
        el(
          'li',
          'yl-RunsEmpty',
          local.error ??
            this._trans.__('No runs in %1 yet.', this._form.project)
        )
      );
      return;
    }
    this._runsNode.replaceChildren(
      ...runs.map(run => this._runItem(run, live.has(run.run)))
    );
  }

  private _runItem(run: IRunSummary, detached: boolean): HTMLLIElement {
    const li = el('li', 'yl-RunItem');
    li.dataset.run = run.run;
    li.dataset.status = run.status;
    li.dataset.detached = String(detached);
    const metric =
      run.map50 !== null && run.map50 !== undefined
        ? ` · mAP@0.5 ${run.map50.toFixed(3)}`
        : '';
    const progress =
      run.epochs !== null && run.epochs !== undefined
        ? this._trans.__('%1/%2 epochs', run.epochs_done, run.epochs)
        : this._trans.__('%1 epoch(s)', run.epochs_done);
    const kept = detached ? ` · ${this._trans.__('detached')}` : '';
    const open = el(
      'button',
      'jp-Button jp-mod-minimal yl-RunOpen',
      this._trans.__('Open')
    );
    open.type = 'button';
    open.title = this._trans.__('Show %1', run.run);
    open.setAttribute('aria-label', this._trans.__('Open %1', run.name));
    open.addEventListener(
      'click',
      () => void this._act(() => this._controller.open(run.run))
    );
    li.append(
      el('span', 'yl-RunName', run.name),
      el('span', 'yl-RunMeta', ` ${run.status} · ${progress}${metric}${kept}`),
      open
    );
    if (detached) {
      const stop = el(
        'button',
        'jp-Button jp-mod-minimal yl-RunStop',
        this._trans.__('Stop')
      );
      stop.type = 'button';
      stop.title = this._trans.__(
        'Stop %1 after its current batch (last.pt is saved)',
        run.name
      );
      stop.setAttribute('aria-label', this._trans.__('Stop %1', run.name));
      stop.addEventListener(
        'click',
        () =>
          void this._act(async () => {
            await this._stopDetached(run.run);
            await this.refreshRuns();
          })
      );
      li.append(stop);
    }
    return li;
  }

  private _controller: TrainingController;
  private _listDetached: () => Promise<IDetachedRun[]>;
  private _stopDetached: (run: string) => Promise<void>;
  private _selectedFile: () => string | null;
  private _trans: TranslationBundle;
  private _formNode = el('div', 'yl-TrainForm');
  private _errorsNode = el('ul', 'yl-FormErrors');
  private _suggestion: HTMLSpanElement | null = null;
  private _insert: HTMLButtonElement;
  private _autotune: HTMLButtonElement;
  private _train: HTMLButtonElement;
  private _stopButton: HTMLButtonElement;
  private _message = el('span', 'yl-TrainMessage');
  private _runsNode = el('ul', 'yl-Runs');
  private _hwKey = '';
  private _trust: HTMLInputElement | null = null;
}
