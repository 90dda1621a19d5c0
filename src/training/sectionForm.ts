/**
 * The Training section's form: the knobs that decide speed (device, batch
 * size, AMP, workers...), the data and weights, with their hints, the
 * batch-size suggestion and the errors. A view of the form model: every
 * value typed goes to the model, which checks it.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';
import { el } from '../dom';
import { type AmpChoice, gpuIndices, ITrainForm, MODEL_CFGS } from './form';
import { slurmGpus, type Where } from './slurmForm';
import type { FormChange, TrainFormModel } from './formModel';

/** Options of the form view. */
export interface ITrainFormViewOptions {
  model: TrainFormModel;
  /** The path of the file selected in the file browser, if any. */
  selectedFile: () => string | null;
  trans: TranslationBundle;
  /** Told after each check whether the form has errors. */
  invalid: (invalid: boolean) => void;
}

/** Ids of the form's hints (aria-describedby), unique in the page. */
let hintIds = 0;

/**
 * The form's rows (`node`) and its errors (`errorsNode`), which the
 * section places.
 */
export class TrainFormView implements IDisposable {
  constructor(options: ITrainFormViewOptions) {
    this._model = options.model;
    this._selectedFile = options.selectedFile;
    this._trans = options.trans;
    this._invalid = options.invalid;
    this._model.changed.connect(this._onFormChanged, this);
  }

  /** The form's rows. */
  readonly node = el('div', 'yl-TrainForm');
  /** The form's errors, one item per field. */
  readonly errorsNode = el('ul', 'yl-FormErrors');

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._model.changed.disconnect(this._onFormChanged, this);
  }

  /** Build the rows from the model's values and hardware. */
  render(): void {
    const trans = this._trans;
    const form = this._form;
    const hw = this._model.hardware;
    const nodes: HTMLElement[] = [];
    const onSlurm = form.where === 'slurm';

    // Where: this kernel's machine, or a Slurm cluster's nodes.
    const where = this._select<Where>('where', [
      ['kernel', trans.__('This kernel')],
      ['slurm', trans.__('A Slurm cluster')]
    ]);
    where.addEventListener('change', () => this.render());
    nodes.push(
      this._field(
        'Where',
        'where',
        where,
        'A Slurm cluster: a job from this login node, torchrun on every node.'
      )
    );
    if (onSlurm) {
      nodes.push(
        this._field(
          'Partition',
          'slurmPartition',
          this._text('slurmPartition', 'the default')
        ),
        this._field('Nodes', 'slurmNodes', this._text('slurmNodes')),
        this._field(
          'GPUs per node',
          'slurmGpusPerNode',
          this._text('slurmGpusPerNode'),
          '0: the CPU (gloo).'
        ),
        this._field(
          'Time limit',
          'slurmTime',
          this._text('slurmTime', 'e.g. 4:00:00')
        ),
        this._field(
          'Account',
          'slurmAccount',
          this._text('slurmAccount', 'the default')
        )
      );
    }

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
        this.render();
      });
      const gpu = hw.gpus.find(g => `cuda:${g.index}` === d);
      const label = el('label', 'yl-Device');
      label.append(box, ` ${d}${gpu ? ` (${gpu.name})` : ''}`);
      devices.append(label);
    }
    if (!onSlurm) {
      nodes.push(
        this._field(
          'Device',
          'devices',
          devices,
          'Several GPUs = DDP (torch.distributed.run).'
        )
      );
    }

    if (onSlurm ? slurmGpus(form) === 0 : !gpuIndices(form.devices).length) {
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
    if (!onSlurm) {
      // A Slurm job outlives the kernel anyway.
      const detach = this._checkbox('detach');
      nodes.push(
        this._field(
          'Keep running when the kernel stops',
          'detach',
          detach,
          'The Jupyter server owns the run: it survives kernel restarts and closed tabs.'
        )
      );
    }

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
    this._trust = this._checkbox('trustWeights');
    const trustRow = this._field(
      'Trust this weights file',
      'trustWeights',
      this._trust,
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
    this.node.replaceChildren(...nodes);
    this._showErrors();
    this._showSuggestion();
  }

  private get _form(): ITrainForm {
    return this._model.form;
  }

  private _onFormChanged(_: unknown, change: FormChange): void {
    if (change === 'loaded' || change === 'applied') {
      this.render();
      return;
    }
    if (change === 'hardware') {
      const key = JSON.stringify(
        this._model.hardware.gpus.map(g => [g.index, g.name])
      );
      if (key !== this._hwKey) {
        this._hwKey = key;
        this.render();
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

  private _set<K extends keyof ITrainForm>(key: K, value: ITrainForm[K]): void {
    this._model.set(key, value);
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

  /** A choice among `options` ([value, label]) for the field `key`. */
  private _select<T extends string>(
    key: keyof ITrainForm,
    options: Array<[T, string]>
  ): HTMLSelectElement {
    const select = el('select', 'jp-mod-styled yl-FormInput');
    select.name = key;
    for (const [value, label] of options) {
      const option = el('option', '', label);
      option.value = value;
      option.selected = value === this._form[key];
      select.append(option);
    }
    select.addEventListener('change', () =>
      this._set(key, select.value as never)
    );
    return select;
  }

  /** A checkbox for a yes-or-no value. */
  private _checkbox(key: 'detach' | 'trustWeights'): HTMLInputElement {
    const box = el('input');
    box.type = 'checkbox';
    box.name = key;
    box.checked = this._form[key];
    box.addEventListener('change', () => this._set(key, box.checked));
    return box;
  }

  private _showErrors(): void {
    const errors = this._model.errors;
    const items = Object.entries(errors);
    this.errorsNode.replaceChildren(
      ...items.map(([field, text]) => {
        const li = el('li', 'yl-FormError', this._trans.__(text ?? ''));
        li.dataset.field = field;
        return li;
      })
    );
    this.errorsNode.hidden = items.length === 0;
    this.node
      .querySelectorAll<HTMLElement>('.yl-FormRow')
      .forEach(row =>
        row.classList.toggle(
          'yl-mod-invalid',
          (row.dataset.field ?? '') in errors
        )
      );
    this._invalid(items.length > 0);
  }

  private _showSuggestion(): void {
    if (!this._suggestion) {
      return;
    }
    const n = this._model.suggestion;
    this._suggestion.textContent =
      n === null
        ? ''
        : this._trans.__(
            'Suggested from free GPU memory: about %1 (an estimate; auto measures).',
            n
          );
  }

  private _model: TrainFormModel;
  private _selectedFile: () => string | null;
  private _trans: TranslationBundle;
  private _invalid: (invalid: boolean) => void;
  private _suggestion: HTMLSpanElement | null = null;
  private _trust: HTMLInputElement | null = null;
  private _hwKey = '';
  private _isDisposed = false;
}
