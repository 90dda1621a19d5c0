import { Panel, Widget } from '@lumino/widgets';
import { DEFAULT_FORM } from '../training/form';
import { FormChange, TrainFormModel } from '../training/formModel';
import { RunRegistry } from '../training/registry';

describe('TrainFormModel', () => {
  it("applies a speed verdict's fix by train() names, ignoring what does not fit", () => {
    const model = new TrainFormModel();
    const changes: FormChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    expect(
      model.apply({ workers: '8', batch_size: '32', amp: true, cache: 'ram' })
    ).toEqual(['workers', 'batchSize', 'amp', 'cache']);
    expect(model.form).toMatchObject({
      workers: '8',
      batchSize: '32',
      amp: true,
      cache: 'ram'
    });
    expect(changes).toEqual(['applied']);
    expect(model.apply({ nope: 1, workers: 8 })).toEqual([]);
    expect(changes).toEqual(['applied']);
  });

  it('gates on the checks, and says what changed', () => {
    const model = new TrainFormModel();
    const changes: FormChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    // The defaults lack a dataset.
    expect(model.valid).toBe(false);
    expect(Object.keys(model.errors)).toEqual(['data']);
    model.set('data', 'shapes/data.yaml');
    expect(model.valid).toBe(true);
    model.set('batchSize', 'abc');
    expect(model.valid).toBe(false);
    expect(model.messages).toEqual([
      'Batch size "abc" is not a number. Give a whole number of images per step such as 16, or auto on one GPU.'
    ]);
    model.load({ ...DEFAULT_FORM, data: 'x.yaml', devices: ['cuda:0'] });
    expect(model.errors.devices).toMatch(/cuda:0 is not there/);
    model.hardware = {
      gpus: [{ index: 0, name: 'H200', memoryTotalBytes: 141e9 }]
    };
    expect(model.valid).toBe(true);
    expect(model.suggestion).toBeGreaterThan(16);
    // The same hardware again is no change.
    model.hardware = {
      gpus: [{ index: 0, name: 'H200', memoryTotalBytes: 141e9 }]
    };
    expect(changes).toEqual(['values', 'values', 'loaded', 'hardware']);
    // The form handed out is a copy.
    model.form.devices.push('cuda:1');
    expect(model.form.devices).toEqual(['cuda:0']);
    model.dispose();
  });
});

describe('RunRegistry', () => {
  it('finds the runs shown inside a container by widget parents', () => {
    const registry = new RunRegistry();
    const notebookA = new Panel();
    const notebookB = new Panel();
    const cellA = new Panel();
    notebookA.addWidget(cellA);
    const viewA = new Widget();
    cellA.addWidget(viewA);
    const viewB = new Widget();
    notebookB.addWidget(viewB);
    const viewB2 = new Widget();
    notebookB.addWidget(viewB2);
    let changes = 0;
    registry.changed.connect(() => changes++);
    const a = registry.add('/runs/a', viewA);
    registry.add('/runs/b', viewB);
    const b2 = registry.add('/runs/b', viewB2);
    expect(registry.runsIn(notebookA)).toEqual(['/runs/a']);
    expect(registry.runsIn(notebookB)).toEqual(['/runs/b']);
    expect(registry.runsIn(null).sort()).toEqual(['/runs/a', '/runs/b']);
    a.dispose();
    expect(registry.runsIn(notebookA)).toEqual([]);
    b2.dispose();
    b2.dispose();
    expect(registry.runsIn(notebookB)).toEqual(['/runs/b']);
    expect(changes).toBe(5);
  });
});
