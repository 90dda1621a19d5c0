/**
 * The shared table of training-parameter cases (protocol/
 * train_params.cases.json), run here through the form's checks and in
 * pytest through train()'s: both read protocol/train_params.schema.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { checkParams, formField, readDevice, RULES } from '../training/params';
import { DEFAULT_FORM, validateForm } from '../training/form';
import { TrainFormModel } from '../training/formModel';
import { expectGenerated, ROOT } from './fixtures';

interface ICase {
  case: string;
  params: Record<string, unknown>;
  visible?: number[];
  ok?: Record<string, unknown>;
  refused?: { field: string; code: string; says: string };
}

const TABLE = JSON.parse(
  fs.readFileSync(
    path.join(ROOT, 'protocol', 'train_params.cases.json'),
    'utf-8'
  )
) as { base: Record<string, unknown>; cases: ICase[] };

/** The devices as the form holds them. */
function devicesOf(device: unknown): string[] {
  return Array.isArray(device) ? device.map(String) : [String(device)];
}

/** The form's text of a value (the user types strings). */
function typed(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

describe.each(TABLE.cases)('$case', (c: ICase) => {
  const params = { ...TABLE.base, ...c.params };
  const visible = c.visible ?? [];

  it('checkParams gives the table', () => {
    const refused = checkParams(params, visible);
    if (c.refused) {
      expect(refused[c.refused.field]?.code).toBe(c.refused.code);
      const r = refused[c.refused.field];
      expect(`${r.message} ${r.fix}`).toContain(c.refused.says);
    } else {
      expect(refused).toEqual({});
    }
  });

  it('the form model says the same', () => {
    const form = {
      ...DEFAULT_FORM,
      data: typed(params.data),
      devices: devicesOf(params.device),
      nproc: 'nproc' in params ? typed(params.nproc) : DEFAULT_FORM.nproc,
      model: 'model' in params ? typed(params.model) : DEFAULT_FORM.model,
      weights: typed(params.weights),
      batchSize:
        'batch_size' in params
          ? typed(params.batch_size)
          : DEFAULT_FORM.batchSize,
      amp: params.amp === true,
      epochs: 'epochs' in params ? typed(params.epochs) : DEFAULT_FORM.epochs,
      imgsz: 'imgsz' in params ? typed(params.imgsz) : DEFAULT_FORM.imgsz,
      workers:
        'workers' in params ? typed(params.workers) : DEFAULT_FORM.workers,
      cache: (params.cache ?? 'none') as any,
      name: 'name' in params ? typed(params.name) : DEFAULT_FORM.name
    };
    const hw = {
      gpus: visible.map(index => ({
        index,
        name: 'GPU',
        memoryTotalBytes: null
      }))
    };
    // Through the form model the panel holds (the devices as the user
    // picked them), as well as its check alone.
    const model = new TrainFormModel();
    model.hardware = hw;
    model.load({ ...form, devicesChosen: true });
    expect(model.errors).toEqual(validateForm(form, hw));
    expect(model.valid).toBe(!c.refused);
    const errors = model.errors;
    if (c.refused) {
      const field = formField(c.refused.field) as keyof typeof errors;
      expect(errors[field]).toContain(c.refused.says);
    } else {
      expect(errors).toEqual({});
    }
  });
});

describe('the definition read by ajv', () => {
  it('is compiled from the current schema (npm run gen:params)', () => {
    expectGenerated('scripts/gen-params-validator.js');
  });

  it('has one function per rule JSON Schema cannot say, as Python', () => {
    const schema = JSON.parse(
      fs.readFileSync(
        path.join(ROOT, 'protocol', 'train_params.schema.json'),
        'utf-8'
      )
    );
    expect(Object.keys(RULES).sort()).toEqual(
      Object.keys(schema['x-rules']).sort()
    );
  });

  it('reads every device spelling into one list', () => {
    expect(readDevice('cpu')).toEqual(['cpu']);
    expect(readDevice(['cuda:0', 'CUDA:1'])).toEqual([0, 1]);
    expect(readDevice('0,2')).toEqual([0, 2]);
    expect(readDevice('cuda')).toEqual([0]);
    expect(readDevice('tpu')).toEqual(['tpu']);
  });
});
