/**
 * The checks of a training run's parameters, from their one definition
 * (protocol/train_params.schema.json, JSON Schema) as Python's train() checks
 * them: ajv's checks compiled from it at build time
 * (paramsValidator.generated.ts), the same words, and the same table of the
 * two rules JSON Schema cannot say (yolo_lab/training/params.py: RULES).
 */
import { definition, validate } from './paramsValidator.generated';

/** The words of one refusal. */
export interface IRefusal {
  /** The parameter refused. */
  field: string;
  code: string;
  message: string;
  fix: string;
}

interface IWords {
  field?: string;
  code: string;
  message: string;
  fix: string;
}

interface IParamSpec {
  type?: string | string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  'x-aliases'?: Record<string, unknown>;
  'x-form'?: string;
  'x-errors'?: Record<string, IWords>;
  [keyword: string]: unknown;
}

interface IParamsSpec {
  properties: Record<string, IParamSpec>;
  allOf: Array<{ 'x-refusal': Required<IWords> }>;
  'x-rules': Record<string, Record<string, Required<IWords>>>;
}

/** One error of ajv's compiled checks. */
interface IAjvError {
  keyword: string;
  schemaPath: string;
}

const SPEC = definition as unknown as IParamsSpec;

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

const GPU_NAME = /^(?:cuda:?)?(\d+)$|^cuda$/;

/**
 * The device as the definition reads it: ['cpu'], or the GPUs' CUDA indices.
 * Accepts 'cpu', 'cuda'/'cuda:N', N, '0,1' and lists of those; what is not a
 * device name stays as given, for the definition to refuse in its words.
 */
export function readDevice(device: unknown): unknown[] {
  const items = Array.isArray(device)
    ? device
    : typeof device === 'string' && device.includes(',')
      ? device
          .split(',')
          .map(part => part.trim())
          .filter(Boolean)
      : [device];
  return items.map(item => {
    if (typeof item !== 'string') {
      return item;
    }
    const name = item.trim().toLowerCase();
    const match = GPU_NAME.exec(name);
    if (name === 'cpu') {
      return 'cpu';
    }
    return match ? Number(match[1] ?? 0) : item;
  });
}

/** The CUDA indices of a device (read or as given; [] for the CPU). */
export function gpuIndices(device: unknown): number[] {
  return readDevice(device).filter(
    (i): i is number => typeof i === 'number' && Number.isInteger(i)
  );
}

/** Fill a template's {keys} from `values`. */
function fill(text: string, values: Record<string, unknown>): string {
  return text.replace(/\{([A-Za-z_-]+)\}/g, (whole, key: string) =>
    key in values ? String(values[key]) : whole
  );
}

function refusal(
  words: IWords,
  field: string,
  values: Record<string, unknown>
): IRefusal {
  return {
    field,
    code: words.code,
    message: fill(words.message, values),
    fix: fill(words.fix ?? '', values)
  };
}

const WHOLE = /^\s*-?\d+\s*$/;

/**
 * A given value as the definition validates it: an alias's value, a whole
 * number given as digits or as an integral float, the device read.
 */
function coerce(name: string, value: unknown): unknown {
  if (name === 'device') {
    return readDevice(value);
  }
  const spec = SPEC.properties[name];
  const aliases = spec['x-aliases'] ?? {};
  if (typeof value === 'string') {
    const key = value.trim();
    if (Object.prototype.hasOwnProperty.call(aliases, key)) {
      return aliases[key];
    }
  }
  const types = Array.isArray(spec.type) ? spec.type : [spec.type];
  if (types.includes('integer') && typeof value === 'string') {
    return WHOLE.test(value) ? Number(value) : value;
  }
  return value;
}

/** A schema path (#/properties/x/minimum) as its steps. */
function steps(error: IAjvError): string[] {
  return error.schemaPath.replace(/^#\//, '').split('/');
}

/** Where a refusal ranks: by parameter, then own keywords before rules. */
function rank(error: IAjvError): [number, number] {
  const [where, key, keyword] = steps(error);
  if (where === 'allOf') {
    const index = Number(key);
    const field = SPEC.allOf[index]['x-refusal'].field;
    return [PARAM_NAMES.indexOf(field), 100 + index];
  }
  const keywords = Object.keys(SPEC.properties[key]);
  const at = keywords.indexOf(
    keywords.includes(keyword) ? keyword : error.keyword
  );
  return [PARAM_NAMES.indexOf(key), at < 0 ? 99 : at];
}

function wordsOf(
  error: IAjvError,
  given: Record<string, unknown>,
  values: Record<string, unknown>
): IRefusal {
  const [where, key] = steps(error);
  if (where === 'allOf') {
    const words = SPEC.allOf[Number(key)]['x-refusal'];
    return refusal(words, words.field, values);
  }
  const spec = SPEC.properties[key];
  const errors = spec['x-errors'] ?? {};
  const words = errors[error.keyword] ??
    errors.type ?? {
      code: `bad_${key}`,
      message: `${key} {value} is not valid.`,
      fix: ''
    };
  const value = key in given ? given[key] : values[key];
  return refusal(words, key, {
    ...spec,
    name: key,
    value: JSON.stringify(value)
  });
}

type Rule = (
  values: Record<string, unknown>,
  visible: number[]
) => IRefusal | null;

/** A chosen GPU the kernel does not see. */
function deviceVisible(
  values: Record<string, unknown>,
  visible: number[]
): IRefusal | null {
  const missing = gpuIndices(values.device ?? []).find(
    i => !visible.includes(i)
  );
  if (missing === undefined) {
    return null;
  }
  const words =
    SPEC['x-rules'].device_visible[visible.length ? 'some' : 'none'];
  return refusal(words, words.field, {
    missing,
    visible: visible.length,
    visible_names: visible.map(i => `cuda:${i}`).join(', ')
  });
}

/** A DDP batch divides by the processes (one per GPU, else nproc). */
function batchDividesWorld(values: Record<string, unknown>): IRefusal | null {
  const batch = values.batch_size;
  if (typeof batch !== 'number' || !Number.isInteger(batch)) {
    return null;
  }
  const nproc = values.nproc;
  const world =
    gpuIndices(values.device ?? []).length ||
    (typeof nproc === 'number' && nproc > 0 ? nproc : 1);
  if (world < 2 || batch % world === 0) {
    return null;
  }
  const lower = batch - (batch % world);
  const words = SPEC['x-rules'].batch_divides_world.refused;
  return refusal(words, words.field, {
    batch_size: batch,
    world,
    lower: Math.max(lower, world),
    upper: lower + world
  });
}

/** The rules JSON Schema cannot say, by name (as Python's RULES). */
export const RULES: Record<string, Rule> = {
  device_visible: deviceVisible,
  batch_divides_world: batchDividesWorld
};

/**
 * Check parameters as train() does (as the form gives them: strings where
 * the user types; the device as names), on a kernel that sees the GPUs
 * `visible`. The first refusal of each parameter; empty when the run can
 * start as far as its parameters go.
 */
export function checkParams(
  params: Record<string, unknown>,
  visible: number[]
): Record<string, IRefusal> {
  const given: Record<string, unknown> = {};
  for (const name of PARAM_NAMES) {
    given[name] = name in params ? params[name] : SPEC.properties[name].default;
  }
  const values: Record<string, unknown> = {};
  for (const name of PARAM_NAMES) {
    values[name] = coerce(name, given[name]);
  }
  const check = validate as ((data: unknown) => boolean) & {
    errors?: IAjvError[] | null;
  };
  check(values);
  const errors = [...(check.errors ?? [])];
  errors.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1];
  });
  const found = errors.map(e => wordsOf(e, given, values));
  for (const rule of Object.values(RULES)) {
    const refused = rule(values, visible);
    if (refused) {
      found.push(refused);
    }
  }
  const out: Record<string, IRefusal> = {};
  for (const r of found) {
    out[r.field] ??= r;
  }
  return out;
}
