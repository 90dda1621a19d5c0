/**
 * The checks of a training run's parameters, read from their one definition
 * (protocol/train_params.schema.json) as Python's train() reads it: the same
 * limits, the same refusals, the same words.
 */

// The definition sits outside src/ so that Python and TypeScript read one
// file; from lib/ (webpack) and from src/ (jest) the relative path is the same.
declare const require: (id: string) => unknown;
const SPEC = require('../../protocol/train_params.schema.json') as IParamsSpec;

/** The words of one refusal. */
export interface IRefusal {
  /** The parameter refused. */
  field: string;
  code: string;
  message: string;
  fix: string;
}

interface IWords {
  code: string;
  message: string;
  fix: string;
}

type Condition = {
  const?: unknown;
  minimum?: number;
  maximum?: number;
  type?: 'integer' | 'null';
  not?: Condition;
};

interface IParamSpec {
  type?: string | string[];
  title?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  enum?: unknown[];
  'x-aliases'?: Record<string, unknown>;
  'x-form'?: string;
  'x-required'?: boolean;
  'x-errors'?: Record<string, IWords>;
  [keyword: string]: unknown;
}

interface IParamsSpec {
  properties: Record<string, IParamSpec>;
  'x-refuse': Array<
    IWords & { field: string; when: Record<string, Condition> }
  >;
}

/** Parameter names, in the definition's order. */
export const PARAM_NAMES = Object.keys(SPEC.properties);

/** The form field of each parameter (x-form), e.g. batch_size: batchSize. */
export function formField(name: string): string {
  return SPEC.properties[name]?.['x-form'] ?? name;
}

/** A parameter's default. */
export function paramDefault(name: string): unknown {
  return SPEC.properties[name]?.default;
}

/** A limit of a parameter (minimum or maximum). */
export function paramLimit(
  name: string,
  keyword: 'minimum' | 'maximum'
): number {
  return SPEC.properties[name][keyword] as number;
}

/** The CUDA indices of the chosen devices ([] for the CPU). */
export function gpuIndices(devices: string[]): number[] {
  return devices
    .map(d => /^cuda:(\d+)$/.exec(d))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(m => Number(m[1]));
}

/** Fill a template's {keys} from `values`. */
function fill(text: string, values: Record<string, unknown>): string {
  return text.replace(/\{([A-Za-z_-]+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole
  );
}

const WHOLE = /^\s*-?\d+\s*$/;

/**
 * Read one parameter as its type and check its limits: the value, or the
 * refusal in the definition's words.
 */
export function readParam(
  name: string,
  value: unknown
): { ok: true; value: unknown } | { ok: false; refusal: IRefusal } {
  const spec = SPEC.properties[name];
  const refuse = (keyword: string): { ok: false; refusal: IRefusal } => {
    const errors = spec['x-errors'] ?? {};
    const words = errors[keyword] ?? errors.type;
    const values = { ...spec, name, value: JSON.stringify(value) };
    return {
      ok: false,
      refusal: {
        field: name,
        code: words?.code ?? `bad_${name}`,
        message: fill(
          words?.message ?? `${name} {value} is not valid.`,
          values
        ),
        fix: fill(words?.fix ?? '', values)
      }
    };
  };
  if (value === undefined) {
    if (spec['x-required']) {
      return refuse('required');
    }
    return { ok: true, value: spec.default };
  }
  const aliases = spec['x-aliases'] ?? {};
  if (typeof value === 'string') {
    const key = value.trim();
    if (Object.prototype.hasOwnProperty.call(aliases, key)) {
      return { ok: true, value: aliases[key] };
    }
  }
  if (spec['x-required'] && (value === '' || value === null)) {
    return refuse('required');
  }
  const types = Array.isArray(spec.type) ? spec.type : [spec.type];
  let read = value;
  if (types.includes('integer')) {
    if (typeof value === 'string' && WHOLE.test(value)) {
      read = Number(value);
    }
    if (typeof read !== 'number' || !Number.isInteger(read)) {
      return refuse('type');
    }
  } else if (spec.type !== undefined) {
    const kind = value === null ? 'null' : typeof value;
    if (!types.includes(kind)) {
      return refuse('type');
    }
  }
  if (spec.enum && !spec.enum.includes(read)) {
    return refuse('enum');
  }
  if (typeof read === 'number') {
    if (spec.minimum !== undefined && read < spec.minimum) {
      return refuse('minimum');
    }
    if (spec.maximum !== undefined && read > spec.maximum) {
      return refuse('maximum');
    }
  }
  if (
    spec.pattern !== undefined &&
    typeof read === 'string' &&
    !new RegExp(spec.pattern).test(read)
  ) {
    return refuse('pattern');
  }
  return { ok: true, value: read };
}

function holds(condition: Condition, value: unknown): boolean {
  if ('const' in condition && value !== condition.const) {
    return false;
  }
  if (condition.minimum !== undefined) {
    if (typeof value !== 'number' || value < condition.minimum) {
      return false;
    }
  }
  if (condition.maximum !== undefined) {
    if (typeof value !== 'number' || value > condition.maximum) {
      return false;
    }
  }
  if (condition.type === 'integer' && !Number.isInteger(value)) {
    return false;
  }
  if (condition.type === 'null' && value !== null) {
    return false;
  }
  if (condition.not && holds(condition.not, value)) {
    return false;
  }
  return true;
}

/**
 * The facts the refusals are about: the values read, and what the chosen
 * devices give against the GPUs the kernel sees.
 */
export function facts(
  values: Record<string, unknown>,
  devices: string[],
  visible: number[]
): Record<string, unknown> {
  const gpus = gpuIndices(devices);
  const missing = gpus.find(i => !visible.includes(i));
  const batch = values.batch_size;
  const nproc = values.nproc;
  const world = gpus.length
    ? gpus.length
    : typeof nproc === 'number' && nproc > 0
      ? nproc
      : 1;
  const remainder = typeof batch === 'number' && world > 1 ? batch % world : 0;
  const lower = typeof batch === 'number' ? batch - remainder : 0;
  return {
    ...values,
    gpus: gpus.length,
    cpu: devices.includes('cpu'),
    visible: visible.length,
    visible_names: visible.map(i => `cuda:${i}`).join(', '),
    missing: missing ?? null,
    world,
    remainder,
    lower: Math.max(lower, world),
    upper: lower + world
  };
}

/** The refusals of the definition that hold over `facts`, first per field. */
export function refusals(known: Record<string, unknown>): IRefusal[] {
  const out: IRefusal[] = [];
  for (const rule of SPEC['x-refuse']) {
    const applies = Object.entries(rule.when).every(
      ([fact, condition]) => fact in known && holds(condition, known[fact])
    );
    if (applies && !out.some(r => r.field === rule.field)) {
      out.push({
        field: rule.field,
        code: rule.code,
        message: fill(rule.message, known),
        fix: fill(rule.fix, known)
      });
    }
  }
  return out;
}

/**
 * Check parameters as train() would (as the form gives them: strings where
 * the user types), on a kernel that sees the GPUs `visible`. Refusals by
 * parameter; empty when the run can start as far as its parameters go.
 */
export function checkParams(
  params: Record<string, unknown>,
  devices: string[],
  visible: number[]
): Record<string, IRefusal> {
  const out: Record<string, IRefusal> = {};
  const values: Record<string, unknown> = {};
  for (const name of PARAM_NAMES.filter(n => n !== 'device')) {
    const read = readParam(name, params[name]);
    if (read.ok) {
      values[name] = read.value;
    } else {
      out[name] = read.refusal;
    }
  }
  for (const refusal of refusals(facts(values, devices, visible))) {
    out[refusal.field] ??= refusal;
  }
  return out;
}
