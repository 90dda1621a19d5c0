/**
 * The training form: its values, their checks and the cell they become.
 *
 * No DOM here: the panel renders these values and the jest tests check the
 * rules. The checks are the definition yolo_lab.training checks with
 * (protocol/train_params.schema.json), so a value the kernel would refuse
 * is caught, in the same words, before a cell is written.
 */
import {
  checkParams,
  formField,
  gpuIndices,
  paramDefault,
  paramLimit
} from './params';
import {
  DEFAULT_SLURM,
  type ISlurmFields,
  slurmArg,
  slurmErrors,
  slurmGpus,
  slurmNodes
} from './slurmForm';

export { gpuIndices } from './params';

/**
 * AMP as train() takes it: true or false forces it; null is automatic (on
 * with CUDA once YOLOv5's offline check passes, off on the CPU).
 */
export type AmpChoice = boolean | null;

/** What the form holds; strings where the user types. */
export interface ITrainForm extends ISlurmFields {
  data: string;
  model: string;
  weights: string;
  /** ['cpu'] or one or more 'cuda:N' (several = DDP). */
  devices: string[];
  /**
   * Whether the user picked the devices; until then they follow the kernel:
   * its first GPU, else the CPU (defaultDevices).
   */
  devicesChosen: boolean;
  /** Processes of a DDP run on the CPU (gloo); '1' is a plain run. */
  nproc: string;
  /** A whole number, or 'auto' (YOLOv5 autobatch, one GPU). */
  batchSize: string;
  amp: AmpChoice;
  workers: string;
  epochs: string;
  imgsz: string;
  cache: 'none' | 'ram' | 'disk';
  name: string;
  project: string;
  yolov5Dir: string;
  /** Keep training when the kernel stops: the Jupyter server owns the run. */
  detach: boolean;
  /**
   * Load the weights file in full, running the code a .pt file may carry
   * (train()'s trust_weights): only for this file; changing the weights
   * clears it (TrainFormModel.set).
   */
  trustWeights: boolean;
}

/** A parameter's default as the form's text holds it (null: empty). */
function textDefault(name: string): string {
  const value = paramDefault(name);
  return value === null || value === undefined ? '' : String(value);
}

/**
 * The form's starting values: train()'s own defaults, read from the
 * definition (small and fast, fine on a laptop CPU); the devices follow the
 * kernel's GPUs until the user picks them.
 */
export const DEFAULT_FORM: ITrainForm = {
  data: '',
  model: textDefault('model'),
  weights: textDefault('weights'),
  devices: [paramDefault('device') as string],
  devicesChosen: false,
  nproc: textDefault('nproc'),
  batchSize: textDefault('batch_size'),
  amp: paramDefault('amp') as AmpChoice,
  workers: textDefault('workers'),
  epochs: textDefault('epochs'),
  imgsz: textDefault('imgsz'),
  cache: (paramDefault('cache') as ITrainForm['cache'] | null) ?? 'none',
  name: textDefault('name'),
  project: textDefault('project'),
  yolov5Dir: '',
  detach: false,
  trustWeights: false,
  ...DEFAULT_SLURM
};

/** Model configs YOLOv5 ships, smallest first. */
export const MODEL_CFGS = [
  'yolov5n.yaml',
  'yolov5s.yaml',
  'yolov5m.yaml',
  'yolov5l.yaml',
  'yolov5x.yaml'
];

/** A GPU the kernel sees. */
export interface IGpuInfo {
  index: number;
  name: string;
  memoryTotalBytes: number | null;
  /** Used memory from the latest telemetry sample, when known. */
  memoryUsedBytes?: number | null;
}

/** What the kernel has, from the doctor report. */
export interface IHardware {
  gpus: IGpuInfo[];
}

/**
 * The devices of a form the user has not picked them in: the first GPU the
 * kernel sees (the lowest index), else train()'s default, the CPU.
 */
export function defaultDevices(hw: IHardware): string[] {
  if (!hw.gpus.length) {
    return [...DEFAULT_FORM.devices];
  }
  return [`cuda:${Math.min(...hw.gpus.map(g => g.index))}`];
}

/** Errors by field name; empty when the form can become a cell. */
export type FormErrors = Partial<Record<keyof ITrainForm, string>>;

/** The largest batch size, from the definition. */
export const MAX_BATCH_SIZE = paramLimit('batch_size', 'maximum');

/**
 * Check the form against the hardware with the definition Python's train()
 * checks with (protocol/train_params.schema.json): errors by form field,
 * each the refusal's message and fix.
 */
export function validateForm(form: ITrainForm, hw: IHardware): FormErrors {
  // On Slurm each node's GPUs are the request's, not this kernel's.
  const onSlurm = form.where === 'slurm';
  const nodeGpus = Array.from({ length: slurmGpus(form) ?? 0 }, (_, i) => i);
  const params: Record<string, unknown> = {
    data: form.data.trim(),
    device: onSlurm
      ? nodeGpus.length
        ? nodeGpus.map(i => `cuda:${i}`)
        : ['cpu']
      : form.devices,
    model: form.model.trim(),
    weights: form.weights.trim(),
    nproc: form.nproc,
    batch_size: form.batchSize,
    amp: form.amp,
    epochs: form.epochs,
    imgsz: form.imgsz,
    workers: form.workers,
    cache: form.cache,
    name: form.name,
    project: form.project
  };
  const errors: FormErrors = slurmErrors(form);
  const refused = checkParams(
    params,
    onSlurm ? nodeGpus : hw.gpus.map(g => g.index)
  );
  for (const [name, refusal] of Object.entries(refused)) {
    const field = formField(name) as keyof ITrainForm;
    errors[field] = `${refusal.message} ${refusal.fix}`.trim();
  }
  const nodes = slurmNodes(form);
  if (onSlurm && nodes && nodes > 1 && !errors.batchSize) {
    // The processes of every node share the batch (train() says the same).
    const world = (nodeGpus.length || Number(form.nproc) || 1) * nodes;
    const batch = form.batchSize.trim().toLowerCase();
    if (batch === 'auto' || batch === '-1') {
      errors.batchSize = `batch_size="auto" sizes one GPU; this run has ${world} processes. Give a batch size that the processes share.`;
    } else if (Number(batch) % world) {
      errors.batchSize = `batch_size=${batch} does not split evenly over the run's ${world} processes (${nodes} nodes). Use a multiple of ${world}.`;
    }
  }
  return errors;
}

/** Rough GPU memory per image for training at 640 px with AMP, in GiB. */
const GIB_PER_IMAGE_640: Record<string, number> = {
  yolov5n: 0.1,
  yolov5s: 0.17,
  yolov5m: 0.33,
  yolov5l: 0.55,
  yolov5x: 0.9
};

/**
 * A batch size to start from, from the free memory of the chosen GPUs (the
 * smallest of them): an estimate, not a measurement; "auto" measures.
 * Null on the CPU or when the memory is unknown.
 */
export function suggestBatchSize(
  form: ITrainForm,
  hw: IHardware
): number | null {
  const gpus = gpuIndices(form.devices);
  if (!gpus.length) {
    return null;
  }
  const free = gpus.map(i => {
    const gpu = hw.gpus.find(g => g.index === i);
    if (!gpu || gpu.memoryTotalBytes === null) {
      return null;
    }
    return gpu.memoryTotalBytes - (gpu.memoryUsedBytes ?? 0);
  });
  if (free.some(f => f === null)) {
    return null;
  }
  const freeGib = Math.min(...(free as number[])) / 2 ** 30;
  const stem = (/yolov5[nsmlx]/.exec(form.model || form.weights) ?? [
    'yolov5s'
  ])[0];
  const imgsz = Number(form.imgsz) || 640;
  let perImage = GIB_PER_IMAGE_640[stem] * (imgsz / 640) ** 2;
  // Automatic AMP is on with CUDA (unless the offline check fails, which
  // the run then says): only a forced off costs the float32 memory.
  if (form.amp === false) {
    perImage *= 1.8;
  }
  // 80% of the free memory, a multiple of 8 per GPU, at least one per GPU.
  const perGpu = Math.floor((0.8 * freeGib) / perImage / 8) * 8;
  const total = Math.max(1, perGpu) * gpus.length;
  return Math.min(total, MAX_BATCH_SIZE - (MAX_BATCH_SIZE % gpus.length));
}

function py(text: string): string {
  // A JSON string is a valid Python string literal.
  return JSON.stringify(text);
}

/** The device argument as the cell writes it. */
export function deviceArg(devices: string[]): string {
  if (devices.length > 1) {
    return `[${devices.map(py).join(', ')}]`;
  }
  return py(devices[0] ?? 'cpu');
}

/** AMP as the cell writes it: None (automatic), True or False. */
function ampArg(amp: AmpChoice): string {
  return amp === null ? 'None' : amp ? 'True' : 'False';
}

/** The batch as train() takes it: a number or "auto". */
function batchArg(form: ITrainForm): string {
  const batch = form.batchSize.trim().toLowerCase();
  return batch === 'auto' || batch === '-1' ? '"auto"' : String(Number(batch));
}

/** `name(\n    k=v,\n)` lines of a call, the form's folders last. */
function call(
  target: string,
  form: ITrainForm,
  args: Array<[string, string]>
): string[] {
  const all = [...args];
  if (form.project.trim() && form.project.trim() !== 'runs/train') {
    all.push(['project', py(form.project.trim())]);
  }
  if (form.yolov5Dir.trim()) {
    all.push(['yolov5_dir', py(form.yolov5Dir.trim())]);
  }
  return [`${target}(`, ...all.map(([k, v]) => `    ${k}=${v},`), ')'];
}

/** data, model and weights: what every cell of the form starts with. */
function modelArgs(form: ITrainForm): Array<[string, string]> {
  const args: Array<[string, string]> = [
    ['data', py(form.data.trim())],
    ['model', py(form.model.trim())]
  ];
  if (form.weights.trim()) {
    args.push(['weights', py(form.weights.trim())]);
    if (form.trustWeights) {
      args.push(['trust_weights', 'True']);
    }
  }
  return args;
}

/** The training cell the form stands for: short and readable. */
export function cellText(form: ITrainForm): string {
  const onSlurm = form.where === 'slurm';
  const args = modelArgs(form);
  if (!onSlurm) {
    args.push(['device', deviceArg(form.devices)]);
  }
  const cpu = onSlurm
    ? !slurmGpus(form)
    : gpuIndices(form.devices).length === 0;
  if (cpu && Number(form.nproc) > 1) {
    args.push(['nproc', String(Number(form.nproc))]);
  }
  args.push(
    ['batch_size', batchArg(form)],
    ['amp', ampArg(form.amp)],
    ['epochs', String(Number(form.epochs))],
    ['imgsz', String(Number(form.imgsz))],
    ['workers', String(Number(form.workers))],
    ['cache', form.cache === 'none' ? 'None' : py(form.cache)],
    ['name', py(form.name)]
  );
  if (onSlurm) {
    args.push(['cluster', slurmArg(form)]);
  } else if (form.detach) {
    args.push(['detach', 'True']);
  }
  return [
    onSlurm
      ? 'from yolo_lab import Slurm, train'
      : 'from yolo_lab import train',
    '',
    ...call('run = train', form, args),
    'run'
  ].join('\n');
}

/** Seconds autotune probes for when the panel starts it. */
export const AUTOTUNE_BUDGET_S = 120;

/**
 * The cell that autotunes the form's settings on its device (the first GPU
 * when it names several: the batch found is per GPU), starting from the
 * form's batch, workers, cache and AMP, which it compares against.
 */
export function autotuneCellText(
  form: ITrainForm,
  budgetS: number = AUTOTUNE_BUDGET_S
): string {
  const args = modelArgs(form);
  const gpus = gpuIndices(form.devices);
  const batch = batchArg(form);
  args.push(
    ['device', py(gpus.length ? `cuda:${gpus[0]}` : 'cpu')],
    ['imgsz', String(Number(form.imgsz))],
    ['batch_size', batch === '"auto"' ? '16' : batch],
    ['workers', String(Number(form.workers))],
    ['cache', form.cache === 'none' ? 'None' : py(form.cache)],
    ['amp', ampArg(form.amp)],
    ['budget_s', String(budgetS)]
  );
  return [
    'from yolo_lab import autotune',
    '',
    ...call('tuned = autotune', form, args),
    'tuned'
  ].join('\n');
}

/**
 * A value of a fix (a verdict's, autotune's winner: the protocol's
 * form_fix, train()'s types) as the form's field `key` holds it: a whole
 * number becomes the field's text, a null cache 'none'; else as formValue
 * (a fix saved by an older version held the form's text already).
 */
export function fixValue<K extends keyof ITrainForm>(
  key: K,
  value: unknown
): ITrainForm[K] | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) {
    return formValue(key, String(value));
  }
  if (key === 'cache' && value === null) {
    return 'none' as ITrainForm[K];
  }
  if (key === 'devices' && typeof value === 'string') {
    return formValue(key, [value]); // device="cuda:0", as train() takes it
  }
  return formValue(key, value);
}

/**
 * `value` as the form's field `key` holds it, or undefined when it does not
 * fit (a wrong type, an unknown field): one rule for a saved form and for
 * values set from outside the form (through fixValue).
 */
export function formValue<K extends keyof ITrainForm>(
  key: K,
  value: unknown
): ITrainForm[K] | undefined {
  if (!Object.prototype.hasOwnProperty.call(DEFAULT_FORM, key)) {
    return undefined;
  }
  let fits: boolean;
  switch (key) {
    case 'devices':
      fits = Array.isArray(value) && value.every(d => typeof d === 'string');
      break;
    case 'amp':
      fits = value === null || typeof value === 'boolean';
      break;
    case 'devicesChosen':
    case 'detach':
    case 'trustWeights':
      fits = typeof value === 'boolean';
      break;
    case 'cache':
      fits = value === 'none' || value === 'ram' || value === 'disk';
      break;
    case 'where':
      fits = value === 'kernel' || value === 'slurm';
      break;
    default:
      fits = typeof value === 'string';
  }
  if (!fits) {
    return undefined;
  }
  return (Array.isArray(value) ? [...value] : value) as ITrainForm[K];
}

/**
 * Form values read back from saved notebook metadata, defaults filled in.
 * A saved AMP keeps its value: null is automatic, true and false force it
 * (a form saved before AMP had an automatic choice says false for its old
 * default, and cannot tell it from a choice). Saved devices are the user's
 * unless the form says they were not picked (forms saved before that
 * distinction: picked).
 */
export function formFromMetadata(value: unknown): ITrainForm {
  const form: ITrainForm = {
    ...DEFAULT_FORM,
    devices: [...DEFAULT_FORM.devices]
  };
  if (typeof value !== 'object' || value === null) {
    return form;
  }
  const saved = value as Record<string, unknown>;
  const fields = form as unknown as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_FORM) as Array<keyof ITrainForm>) {
    const v = formValue(key, saved[key]);
    if (v !== undefined) {
      fields[key] = v;
    }
  }
  if (formValue('devicesChosen', saved.devicesChosen) === undefined) {
    form.devicesChosen = formValue('devices', saved.devices) !== undefined;
  }
  return form;
}
