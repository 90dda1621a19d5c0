/**
 * The training form as a model: its values, the hardware they are checked
 * against, and the errors that gate every command writing or running a
 * training cell. No DOM: the sidebar renders it, commands ask it.
 */
import { ISignal, Signal } from '@lumino/signaling';
import {
  DEFAULT_FORM,
  defaultDevices,
  fixValue,
  FormErrors,
  IHardware,
  ITrainForm,
  suggestBatchSize,
  validateForm
} from './form';
import { formField, PARAM_NAMES } from './params';

/**
 * What changed in the form model: a value typed in the form, every value
 * (another notebook's form), several values set from outside the form (a
 * speed verdict's fix), or the hardware.
 */
export type FormChange = 'values' | 'loaded' | 'applied' | 'hardware';

/**
 * A fix the form cannot take (an unknown name, a value of the wrong type):
 * it says which, and the form is left as it was.
 */
export class FixRefusedError extends Error {
  constructor(readonly refused: string[]) {
    super(
      `The training form cannot take ${refused.join(', ')}: nothing was changed. ` +
        'Set the value in the form yourself, or update yolo-lab in the kernel to match JupyterLab.'
    );
    this.name = 'FixRefusedError';
  }
}

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
   * Set values by their train() parameter names (a verdict's fix,
   * autotune's winner: the protocol's form_fix). All or nothing: a name the
   * definition does not have, or a value its field cannot hold (fixValue),
   * throws FixRefusedError naming them, and nothing changes. Returns the
   * fields set.
   */
  apply(changes: object): (keyof ITrainForm)[] {
    const next = { ...this._form } as Record<string, unknown>;
    const set: (keyof ITrainForm)[] = [];
    const refused: string[] = [];
    for (const [name, value] of Object.entries(changes) as [
      string,
      unknown
    ][]) {
      const key = PARAM_NAMES.includes(name)
        ? (formField(name) as keyof ITrainForm)
        : undefined;
      const read = key === undefined ? undefined : fixValue(key, value);
      if (key === undefined || read === undefined) {
        refused.push(`${name}=${JSON.stringify(value) ?? String(value)}`);
        continue;
      }
      next[key] = read;
      set.push(key);
    }
    if (refused.length) {
      throw new FixRefusedError(refused);
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
