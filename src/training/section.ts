/**
 * The training part of the sidebar: the knobs that decide speed (device,
 * batch size, AMP, workers...), the buttons that write and run the training
 * cell, and the runs of the runs/ folder.
 *
 * The values are kept per notebook, in its metadata (`yolo-lab.train`), so a
 * notebook opens with the settings it was trained with.
 */
import { Widget } from '@lumino/widgets';
import type { IKernelBridge } from '../tokens';
import {
  DEFAULT_FORM,
  FormErrors,
  IHardware,
  ITrainForm,
  MODEL_CFGS,
  suggestBatchSize,
  validateForm
} from './form';
import type { IRunSummary } from './types';
import { el } from '../dom';

/** What the section asks the application to do. */
export interface ITrainActions {
  /** The form of the current notebook (null: no notebook). */
  load(): ITrainForm | null;
  /** Keep the form in the current notebook's metadata. */
  save(form: ITrainForm): void;
  /** Write the training cell below the active cell; run it if asked. */
  insertCell(form: ITrainForm, run: boolean): Promise<void>;
  /** Stop the runs of the current notebook that are going. */
  stop(): Promise<void>;
  /** Show a past run in a new cell. */
  openRun(run: string): Promise<void>;
  /** The path of the file selected in the file browser, if any. */
  selectedFile(): string | null;
}

/**
 * The training form, its buttons and the runs list.
 */
export class TrainSection extends Widget {
  constructor(bridge: IKernelBridge, actions: ITrainActions) {
    super();
    this._bridge = bridge;
    this._actions = actions;
    this.addClass('yl-TrainSection');
    this.node.append(
      el('h3', 'yl-SectionTitle', 'Training'),
      this._formNode,
      this._errorsNode,
      this._buttons(),
      this._runsHead(),
      this._runsNode
    );
    bridge.model.changed.connect(this._onEnvironment, this);
    this.reload();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._bridge.model.changed.disconnect(this._onEnvironment, this);
    super.dispose();
  }

  /** The form shown. */
  get form(): ITrainForm {
    return { ...this._form, devices: [...this._form.devices] };
  }

  /** Read the current notebook's saved form (after a notebook change). */
  reload(): void {
    this._form = this._actions.load() ?? { ...DEFAULT_FORM };
    this._render();
  }

  /** The hardware of the attached kernel, from its doctor report. */
  hardware(): IHardware {
    const report = this._bridge.model.state.report;
    const sample = this._bridge.telemetry.buffer.last ?? null;
    return {
      gpus: (report?.gpus ?? []).map((g, i) => ({
        index: g.index,
        name: g.name,
        memoryTotalBytes: g.memory_total_bytes,
        memoryUsedBytes: sample?.gpus[i]?.mem_used_bytes ?? null
      }))
    };
  }

  private _onEnvironment(): void {
    const key = JSON.stringify(this.hardware().gpus.map(g => g.index));
    if (key !== this._hwKey) {
      this._hwKey = key;
      this._render();
    }
    if (this._bridge.connected && !this._runsLoaded) {
      this._runsLoaded = true;
      void this.refreshRuns();
    }
  }

  private _set<K extends keyof ITrainForm>(key: K, value: ITrainForm[K]): void {
    this._form = { ...this._form, [key]: value };
    this._actions.save(this._form);
    this._showErrors();
    this._showSuggestion();
  }

  private _field(
    label: string,
    key: keyof ITrainForm,
    control: HTMLElement,
    hint?: string
  ): HTMLElement {
    const row = el('label', 'yl-FormRow');
    row.dataset.field = key;
    row.append(el('span', 'yl-FormLabel', label), control);
    if (hint) {
      row.append(el('span', 'yl-FormHint', hint));
    }
    return row;
  }

  private _text(key: keyof ITrainForm, placeholder = ''): HTMLInputElement {
    const input = el('input', 'jp-mod-styled yl-FormInput');
    input.type = 'text';
    input.name = key;
    input.placeholder = placeholder;
    input.value = String(this._form[key]);
    input.addEventListener('input', () => this._set(key, input.value as never));
    return input;
  }

  private _render(): void {
    const form = this._form;
    const hw = this.hardware();
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

    const batch = this._text('batchSize', '16 or auto');
    this._suggestion = el('span', 'yl-FormHint yl-Suggestion');
    const batchRow = this._field('Batch size', 'batchSize', batch);
    batchRow.append(this._suggestion);
    nodes.push(batchRow);

    const amp = el('input');
    amp.type = 'checkbox';
    amp.name = 'amp';
    amp.checked = form.amp;
    amp.addEventListener('change', () => this._set('amp', amp.checked));
    nodes.push(this._field('AMP', 'amp', amp, 'Mixed precision (CUDA only).'));
    nodes.push(this._field('Epochs', 'epochs', this._text('epochs')));
    nodes.push(this._field('Image size', 'imgsz', this._text('imgsz')));
    nodes.push(this._field('Workers', 'workers', this._text('workers')));

    const dataRow = el('div', 'yl-DataPick');
    const data = this._text('data', 'path/to/data.yaml');
    const pick = el(
      'button',
      'jp-Button jp-mod-styled yl-UseSelected',
      'Use selected'
    );
    pick.type = 'button';
    pick.title = 'Use the .yaml file selected in the file browser';
    pick.addEventListener('click', () => {
      const path = this._actions.selectedFile();
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
      const option = el('option', '', cfg || '(from the weights)');
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

  private _errors(): FormErrors {
    return validateForm(this._form, this.hardware());
  }

  private _showErrors(): void {
    const errors = this._errors();
    const items = Object.entries(errors);
    this._errorsNode.replaceChildren(
      ...items.map(([field, text]) => {
        const li = el('li', 'yl-FormError', text);
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
    for (const button of [this._insert, this._train]) {
      button.disabled = items.length > 0;
    }
  }

  private _showSuggestion(): void {
    if (!this._suggestion) {
      return;
    }
    const n = suggestBatchSize(this._form, this.hardware());
    this._suggestion.textContent =
      n === null
        ? ''
        : `Suggested from free GPU memory: about ${n} (an estimate; auto measures).`;
  }

  private _buttons(): HTMLElement {
    const bar = el('div', 'yl-TrainButtons');
    this._insert.type = this._train.type = this._stopButton.type = 'button';
    this._insert.addEventListener('click', () => void this._run(false));
    this._train.addEventListener('click', () => void this._run(true));
    this._stopButton.addEventListener('click', () => {
      this._actions.stop().catch(reason => this._say(String(reason)));
    });
    bar.append(this._insert, this._train, this._stopButton);
    return bar;
  }

  private async _run(execute: boolean): Promise<void> {
    if (Object.keys(this._errors()).length) {
      return;
    }
    try {
      await this._actions.insertCell(this.form, execute);
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
      'Refresh'
    );
    refresh.type = 'button';
    refresh.addEventListener('click', () => void this.refreshRuns());
    head.append(el('h3', 'yl-SectionTitle', 'Runs'), refresh, this._message);
    return head;
  }

  /** List the runs of the form's runs folder, through the kernel. */
  async refreshRuns(): Promise<void> {
    let runs: IRunSummary[];
    try {
      runs = await this._bridge.listRuns(this._form.project || undefined);
    } catch (reason) {
      this._runsNode.replaceChildren(el('li', 'yl-RunsEmpty', String(reason)));
      return;
    }
    if (!runs.length) {
      this._runsNode.replaceChildren(
        el('li', 'yl-RunsEmpty', `No runs in ${this._form.project} yet.`)
      );
      return;
    }
    this._runsNode.replaceChildren(
      ...runs.map(run => {
        const li = el('li', 'yl-RunItem');
        li.dataset.run = run.run;
        li.dataset.status = run.status;
        const metric =
          run.map50 !== null && run.map50 !== undefined
            ? ` · mAP@0.5 ${run.map50.toFixed(3)}`
            : '';
        const open = el(
          'button',
          'jp-Button jp-mod-minimal yl-RunOpen',
          'Open'
        );
        open.type = 'button';
        open.title = `Show ${run.run} in a new cell`;
        open.addEventListener(
          'click',
          () => void this._actions.openRun(run.run)
        );
        li.append(
          el('span', 'yl-RunName', run.name),
          el(
            'span',
            'yl-RunMeta',
            ` ${run.status} · ${run.epochs_done} epoch(s)${metric}`
          ),
          open
        );
        return li;
      })
    );
  }

  private _bridge: IKernelBridge;
  private _actions: ITrainActions;
  private _form: ITrainForm = { ...DEFAULT_FORM };
  private _formNode = el('div', 'yl-TrainForm');
  private _errorsNode = el('ul', 'yl-FormErrors');
  private _suggestion: HTMLSpanElement | null = null;
  private _insert = el(
    'button',
    'jp-Button jp-mod-styled yl-InsertCell',
    'Insert training cell'
  );
  private _train = el(
    'button',
    'jp-Button jp-mod-styled jp-mod-accept yl-Train',
    'Train'
  );
  private _stopButton = el(
    'button',
    'jp-Button jp-mod-styled jp-mod-warn yl-StopTraining',
    'Stop'
  );
  private _message = el('span', 'yl-TrainMessage');
  private _runsNode = el('ul', 'yl-Runs');
  private _hwKey = '';
  private _runsLoaded = false;
}
