/**
 * The training form: its values, their checks and the cell they become.
 *
 * No DOM here: the panel renders these values and the jest tests check the
 * rules. The checks mirror yolo_lab.training's (which stays the authority,
 * since a hand-edited cell skips this form), so that a wrong value is caught
 * before a cell is written.
 */

/** What the form holds; strings where the user types. */
export interface ITrainForm {
  data: string;
  model: string;
  weights: string;
  /** ['cpu'] or one or more 'cuda:N' (several = DDP). */
  devices: string[];
  /** A whole number, or 'auto' (YOLOv5 autobatch, one GPU). */
  batchSize: string;
  amp: boolean;
  workers: string;
  epochs: string;
  imgsz: string;
  cache: 'none' | 'ram' | 'disk';
  name: string;
  project: string;
  yolov5Dir: string;
}

/** The form's starting values: small and fast, fine on a laptop CPU. */
export const DEFAULT_FORM: ITrainForm = {
  data: '',
  model: 'yolov5n.yaml',
  weights: '',
  devices: ['cpu'],
  batchSize: '16',
  amp: false,
  workers: '2',
  epochs: '3',
  imgsz: '640',
  cache: 'none',
  name: 'exp',
  project: 'runs/train',
  yolov5Dir: ''
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

/** Errors by field name; empty when the form can become a cell. */
export type FormErrors = Partial<Record<keyof ITrainForm, string>>;

export const MAX_BATCH_SIZE = 1024;

const WHOLE = /^\s*\d+\s*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function wholeIn(text: string, low: number, high: number): number | null {
  if (!WHOLE.test(text)) {
    return null;
  }
  const n = Number(text);
  return n >= low && n <= high ? n : null;
}

/** The CUDA indices of the chosen devices ([] for the CPU). */
export function gpuIndices(devices: string[]): number[] {
  return devices
    .map(d => /^cuda:(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(m => Number(m[1]));
}

/** Check the form against the hardware; the same rules as the kernel. */
export function validateForm(form: ITrainForm, hw: IHardware): FormErrors {
  const errors: FormErrors = {};
  const gpus = gpuIndices(form.devices);
  const cpu = form.devices.includes('cpu');
  const visible = new Set(hw.gpus.map(g => g.index));

  if (form.devices.length === 0) {
    errors.devices = 'Pick a device: cpu, or one or more GPUs.';
  } else if (cpu && form.devices.length > 1) {
    errors.devices = 'Train on the CPU alone or on GPUs alone.';
  } else {
    const missing = gpus.filter(i => !visible.has(i));
    if (missing.length) {
      const seen = hw.gpus.map(g => `cuda:${g.index}`).join(', ') || 'none';
      errors.devices =
        `cuda:${missing[0]} is not there: the kernel sees ${hw.gpus.length} ` +
        `GPU(s) (${seen}). Pick another device${hw.gpus.length ? '' : ' (cpu)'}.`;
    }
  }

  const batch = form.batchSize.trim().toLowerCase();
  if (batch === 'auto' || batch === '-1') {
    if (gpus.length !== 1) {
      errors.batchSize =
        'auto (YOLOv5 autobatch) works on one GPU only; give a number such as 16.';
    }
  } else if (!WHOLE.test(batch)) {
    errors.batchSize =
      `"${form.batchSize}" is not a number: give a whole number such as 16, ` +
      'or auto on one GPU.';
  } else {
    const n = Number(batch);
    if (n < 1) {
      errors.batchSize = 'The batch size must be at least 1.';
    } else if (n > MAX_BATCH_SIZE) {
      errors.batchSize =
        `${n} is more than ${MAX_BATCH_SIZE} images per step; ` +
        "YOLOv5's nominal batch is 64. Try 16 to 256, or auto on one GPU.";
    } else if (gpus.length > 1 && n % gpus.length !== 0) {
      const lower = n - (n % gpus.length);
      errors.batchSize =
        `${n} does not divide by the ${gpus.length} GPUs of the DDP run: ` +
        `use ${Math.max(lower, gpus.length)} or ${lower + gpus.length}.`;
    }
  }

  if (form.amp && gpus.length === 0) {
    errors.amp =
      'AMP (mixed precision) needs a CUDA device; turn it off for the CPU.';
  }
  if (wholeIn(form.workers, 0, 64) === null) {
    errors.workers = 'Workers: a whole number from 0 to 64.';
  }
  if (wholeIn(form.epochs, 1, 100000) === null) {
    errors.epochs = 'Epochs: a whole number, at least 1.';
  }
  if (wholeIn(form.imgsz, 32, 8192) === null) {
    errors.imgsz = 'Image size: a whole number of pixels from 32 to 8192.';
  }
  if (!form.data.trim()) {
    errors.data =
      'Pick a dataset yaml (select it in the file browser, then "Use selected").';
  } else if (!/\.ya?ml$/i.test(form.data.trim())) {
    errors.data = 'The dataset must be a .yaml file (YOLOv5 data format).';
  }
  if (!form.model.trim() && !form.weights.trim()) {
    errors.model = 'Give a model cfg (e.g. yolov5n.yaml) or weights (.pt).';
  }
  if (form.weights.trim() && !/\.pt$/i.test(form.weights.trim())) {
    errors.weights = 'Weights are a .pt file on disk (runs never download).';
  }
  if (!NAME.test(form.name)) {
    errors.name = "Run name: letters, digits, '.', '_' or '-'.";
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
  if (!form.amp) {
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

/** The training cell the form stands for: short and readable. */
export function cellText(form: ITrainForm): string {
  const batch = form.batchSize.trim().toLowerCase();
  const args: Array<[string, string]> = [
    ['data', py(form.data.trim())],
    ['model', py(form.model.trim())]
  ];
  if (form.weights.trim()) {
    args.push(['weights', py(form.weights.trim())]);
  }
  args.push(
    ['device', deviceArg(form.devices)],
    [
      'batch_size',
      batch === 'auto' || batch === '-1' ? '"auto"' : String(Number(batch))
    ],
    ['amp', form.amp ? 'True' : 'False'],
    ['epochs', String(Number(form.epochs))],
    ['imgsz', String(Number(form.imgsz))],
    ['workers', String(Number(form.workers))],
    ['cache', form.cache === 'none' ? 'None' : py(form.cache)],
    ['name', py(form.name)]
  );
  if (form.project.trim() && form.project.trim() !== 'runs/train') {
    args.push(['project', py(form.project.trim())]);
  }
  if (form.yolov5Dir.trim()) {
    args.push(['yolov5_dir', py(form.yolov5Dir.trim())]);
  }
  const lines = args.map(([k, v]) => `    ${k}=${v},`);
  return [
    'from yolo_lab import train',
    '',
    'run = train(',
    ...lines,
    ')',
    'run'
  ].join('\n');
}

/** Form values read back from saved notebook metadata, defaults filled in. */
export function formFromMetadata(value: unknown): ITrainForm {
  const form = { ...DEFAULT_FORM };
  if (typeof value !== 'object' || value === null) {
    return form;
  }
  const saved = value as Record<string, unknown>;
  for (const key of Object.keys(DEFAULT_FORM) as Array<keyof ITrainForm>) {
    const v = saved[key];
    if (key === 'devices') {
      if (Array.isArray(v) && v.every(d => typeof d === 'string')) {
        form.devices = v as string[];
      }
    } else if (key === 'amp') {
      if (typeof v === 'boolean') {
        form.amp = v;
      }
    } else if (key === 'cache') {
      if (v === 'none' || v === 'ram' || v === 'disk') {
        form.cache = v;
      }
    } else if (typeof v === 'string') {
      (form as unknown as Record<string, string>)[key] = v;
    }
  }
  return form;
}
