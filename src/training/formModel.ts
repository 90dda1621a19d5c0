/**
 * The training form as a model: its values, the hardware they are checked
 * against, and the errors that gate every command writing or running a
 * training cell. No DOM: the sidebar renders it, commands ask it.
 */
import { ISignal, Signal } from '@lumino/signaling';
import {
  DEFAULT_FORM,
  defaultDevices,
  FormErrors,
  formValue,
  IHardware,
  ITrainForm,
  suggestBatchSize,
  validateForm
} from './form';

/**
 * What changed in the form model: a value typed in the form, every value
 * (another notebook's form), several values set from outside the form (a
 * speed verdict's fix), or the hardware.
 */
export type FormChange = 'values' | 'loaded' | 'applied' | 'hardware';

/** Python parameter names that the form calls otherwise. */
const FORM_NAMES: Record<string, keyof ITrainForm> = {
  batch_size: 'batchSize',
  yolov5_dir: 'yolov5Dir'
};

/**
 * The form shown in the sidebar and used by the toolbar and the palette.
 */
export class TrainFormModel {
  /**
   * Emits after every change: a value set (to be kept in the notebook), all
   * values loaded (another notebook's form), or the hardware they are
   * checked against.
   */
  get changed(): ISignal<this, FormChange> {
    return this._changed;
  }

  /** A copy of the values. */
  get form(): ITrainForm {
    return { ...this._form, devices: [...this._form.devices] };
  }

  /**
   * What the values are checked against (from the doctor and telemetry);
   * devices the user has not picked follow it.
   */
  get hardware(): IHardware {
    return this._hardware;
  }
  set hardware(value: IHardware) {
    if (JSON.stringify(value) !== JSON.stringify(this._hardware)) {
      this._hardware = value;
      this._followHardware();
      this._update('hardware');
    }
  }

  /** Errors by field; empty when the form can become a cell. */
  get errors(): FormErrors {
    return this._errors;
  }

  /** Whether the form can become a cell. */
  get valid(): boolean {
    return Object.keys(this._errors).length === 0;
  }

  /** Every error, in the order of the form's fields. */
  get messages(): string[] {
    return Object.values(this._errors).filter((m): m is string => !!m);
  }

  /** A batch size to start from, from free GPU memory (null: none). */
  get suggestion(): number | null {
    return suggestBatchSize(this._form, this._hardware);
  }

  /** Change one value; devices set so are the user's from then on. */
  set<K extends keyof ITrainForm>(key: K, value: ITrainForm[K]): void {
    const before = this._form;
    this._form = { ...this._form, [key]: value };
    if (key === 'devices') {
      this._form.devicesChosen = true;
    }
    // Trust is given to one file: another file starts untrusted.
    if (key === 'weights' && String(value).trim() !== before.weights.trim()) {
      this._form.trustWeights = false;
    }
    this._update('values');
  }

  /**
   * Set values by their train() parameter names (a verdict's fix); unknown
   * names and values the field does not hold (formValue) are ignored.
   * Returns the fields set.
   */
  apply(changes: Record<string, unknown>): (keyof ITrainForm)[] {
    const next = { ...this._form } as Record<string, unknown>;
    const set: (keyof ITrainForm)[] = [];
    for (const [name, value] of Object.entries(changes)) {
      const key = FORM_NAMES[name] ?? (name as keyof ITrainForm);
      const read = formValue(key, value);
      if (read !== undefined) {
        next[key] = read;
        set.push(key);
      }
    }
    if (set.includes('devices')) {
      next.devicesChosen = true;
    }
    if (
      set.includes('weights') &&
      !set.includes('trustWeights') &&
      String(next.weights).trim() !== this._form.weights.trim()
    ) {
      next.trustWeights = false;
    }
    if (set.length) {
      this._form = next as unknown as ITrainForm;
      this._update('applied');
    }
    return set;
  }

  /** Replace every value (another notebook's form); null: the defaults. */
  load(form: ITrainForm | null): void {
    const from = form ?? DEFAULT_FORM;
    this._form = { ...from, devices: [...from.devices] };
    this._followHardware();
    this._update('loaded');
  }

  /** Dispose of the model's signal connections. */
  dispose(): void {
    Signal.clearData(this);
  }

  /** Devices the user has not picked: the kernel's first GPU, else the CPU. */
  private _followHardware(): void {
    if (!this._form.devicesChosen) {
      this._form = { ...this._form, devices: defaultDevices(this._hardware) };
    }
  }

  private _update(change: FormChange): void {
    this._errors = validateForm(this._form, this._hardware);
    this._changed.emit(change);
  }

  private _form: ITrainForm = { ...DEFAULT_FORM };
  private _hardware: IHardware = { gpus: [] };
  private _errors: FormErrors = validateForm(DEFAULT_FORM, { gpus: [] });
  private _changed = new Signal<this, FormChange>(this);
}
