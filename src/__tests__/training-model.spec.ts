import { Panel, Widget } from '@lumino/widgets';
import { DEFAULT_FORM, formFromMetadata, IHardware } from '../training/form';
import {
  FixRefusedError,
  FormChange,
  TrainFormModel
} from '../training/formModel';
import { RunModel } from '../training/model';
import { median } from '../training/summarize';
import { RunRegistry } from '../training/registry';
import type {
  IRunEvent,
  IRunEventsMessage,
  IRunStatus
} from '../training/types';

describe('TrainFormModel', () => {
  it("applies a speed verdict's fix by train() names and types (the protocol's form_fix)", () => {
    const model = new TrainFormModel();
    const changes: FormChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    expect(
      model.apply({ workers: 8, batch_size: 32, amp: true, cache: 'ram' })
    ).toEqual(['workers', 'batchSize', 'amp', 'cache']);
    expect(model.form).toMatchObject({
      workers: '8',
      batchSize: '32',
      amp: true,
      cache: 'ram'
    });
    expect(changes).toEqual(['applied']);
    // A null cache is the form's "none"; a fix saved by an older version
    // (the form's own text) still applies.
    expect(model.apply({ cache: null, imgsz: '320' })).toEqual([
      'cache',
      'imgsz'
    ]);
    expect(model.form).toMatchObject({ cache: 'none', imgsz: '320' });
  });

  it('refuses a fix of the wrong type or name with a message, and changes nothing', () => {
    const model = new TrainFormModel();
    const changes: FormChange[] = [];
    model.changed.connect((_, change) => changes.push(change));
    const before = model.form;
    expect(() => model.apply({ workers: true, batch_size: 32 })).toThrow(
      FixRefusedError
    );
    expect(() => model.apply({ workers: 2.5 })).toThrow(
      /cannot take workers=2\.5: nothing was changed/
    );
    expect(() => model.apply({ nope: 1, workers: 8 })).toThrow(/nope=1/);
    expect(model.form).toEqual(before);
    expect(changes).toEqual([]);
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
    model.load({
      ...DEFAULT_FORM,
      data: 'x.yaml',
      devices: ['cuda:0'],
      devicesChosen: true
    });
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

  it('sets AMP automatic, on or off from a fix; nothing else', () => {
    const model = new TrainFormModel();
    expect(model.form.amp).toBeNull();
    expect(model.apply({ amp: true })).toEqual(['amp']);
    expect(model.form.amp).toBe(true);
    expect(model.apply({ amp: false })).toEqual(['amp']);
    expect(model.form.amp).toBe(false);
    expect(model.apply({ amp: null })).toEqual(['amp']);
    expect(model.form.amp).toBeNull();
    expect(() => model.apply({ amp: 'on', cache: 'tape' })).toThrow(
      /amp="on", cache="tape"/
    );
    expect(model.form.amp).toBeNull();
    model.dispose();
  });
});

describe('the default device', () => {
  // Fabricated: this machine has no GPU.
  const gpus = (...indices: number[]): IHardware => ({
    gpus: indices.map(index => ({
      index,
      name: 'H100',
      memoryTotalBytes: 80e9
    }))
  });

  it('is the first GPU once the kernel reports one, the CPU without', () => {
    const model = new TrainFormModel();
    expect(model.form.devices).toEqual(['cpu']);
    model.hardware = gpus(0, 1);
    expect(model.form.devices).toEqual(['cuda:0']);
    expect(model.form.devicesChosen).toBe(false);
    // Another kernel, without GPUs (or a restart: no report yet).
    model.hardware = gpus();
    expect(model.form.devices).toEqual(['cpu']);
    expect(model.valid).toBe(false); // only the dataset is missing
    expect(Object.keys(model.errors)).toEqual(['data']);
    model.dispose();
  });

  it("never overrides the user's choice, typed or saved", () => {
    const model = new TrainFormModel();
    model.set('devices', ['cpu']);
    expect(model.form.devicesChosen).toBe(true);
    model.hardware = gpus(0);
    expect(model.form.devices).toEqual(['cpu']);
    // A notebook saved with its devices picked.
    model.load(formFromMetadata({ devices: ['cuda:1'], devicesChosen: true }));
    expect(model.form.devices).toEqual(['cuda:1']);
    // One saved without: the kernel's first GPU.
    model.load(formFromMetadata({ devices: ['cpu'], devicesChosen: false }));
    expect(model.form.devices).toEqual(['cuda:0']);
    // No saved form: the same.
    model.load(null);
    expect(model.form.devices).toEqual(['cuda:0']);
    // A fix that names devices is a choice too.
    expect(model.apply({ device: 'cpu' })).toEqual(['devices']);
    model.hardware = gpus(2);
    expect(model.form.devices).toEqual(['cpu']);
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

describe('RunModel summary figures', () => {
  const T0 = 1_764_000_000;
  const RUN = '/runs/train/exp';

  function batch(i: number, imgsPerS: number | null): IRunEvent {
    return {
      t: T0 + i,
      kind: 'batch',
      epoch: Math.floor(i / 4),
      epochs: 3,
      batch: i % 4,
      batches: 4,
      box: 0.1,
      obj: 0.05,
      cls: 0.02,
      imgs_per_s: imgsPerS,
      gpu_mem_gib: null
    };
  }

  function epoch(k: number, map50: number, map: number, more = {}): IRunEvent {
    return {
      t: T0 + 4 * k + 3.5,
      kind: 'epoch',
      epoch: k,
      epochs: 3,
      precision: 0.5,
      recall: 0.5,
      map50,
      map,
      epoch_time_s: 4,
      ...more
    };
  }

  function message(
    events: IRunEvent[],
    status: IRunStatus = { status: 'running' },
    history = false
  ): IRunEventsMessage {
    return { v: 1, type: 'run_events', run: RUN, history, status, events };
  }

  it('takes the epoch best.pt holds, its mAPs, the median speed and the weights', () => {
    const model = new RunModel(RUN);
    model.add(
      message(
        [
          { t: T0 - 10, kind: 'start', params: {} },
          // Warm-up batches (slow) are left out of the median.
          batch(0, 5),
          batch(1, 7),
          ...[100, 300, 200, null, 0, 400].map((v, i) => batch(i + 2, v)),
          // Epoch 1 has the higher mAP@0.5, epoch 2 the higher fitness
          // (0.1 × mAP@0.5 + 0.9 × mAP@0.5:0.95), as YOLOv5 picks best.pt.
          epoch(0, 0.2, 0.1),
          epoch(1, 0.6, 0.2),
          epoch(2, 0.5, 0.3)
        ],
        { status: 'running' },
        true
      )
    );
    model.add(
      message(
        [
          {
            t: T0 + 20,
            kind: 'summary',
            epoch: 2,
            last: '/w/last.pt',
            best: '/w/best.pt',
            precision: 0.7,
            recall: 0.6,
            map50: 0.55,
            map: 0.31
          },
          { t: T0 + 21, kind: 'end' }
        ],
        { status: 'finished', best: '/w/best.pt' }
      )
    );
    expect(model.summaryTable()).toEqual({
      bestEpoch: 2,
      bestMap50: 0.5,
      bestMap: 0.3,
      epochsDone: 3,
      epochsPlanned: 3,
      final: { precision: 0.7, recall: 0.6, map50: 0.55, map: 0.31 },
      timeS: 31,
      // Of 100, 300, 200, 400 (null and 0 are not measures).
      imgsPerS: 250,
      weights: { best: '/w/best.pt', last: '/w/last.pt' }
    });
  });

  it("prefers the epoch's own fitness, and the later epoch on a tie", () => {
    const model = new RunModel(RUN);
    model.add(
      message(
        [
          epoch(0, 0.9, 0.1, { fitness: 0.4 }),
          epoch(1, 0.2, 0.2, { fitness: 0.5 }),
          epoch(2, 0.3, 0.3, { fitness: 0.5 })
        ],
        { status: 'stopped', last: '/w/last.pt' },
        true
      )
    );
    const figures = model.summaryTable();
    expect(figures.bestEpoch).toBe(2);
    expect(figures.bestMap50).toBe(0.3);
    expect(figures.final).toBeNull();
    expect(figures.imgsPerS).toBeNull();
    expect(figures.weights).toEqual({ best: null, last: '/w/last.pt' });
  });

  it('counts the time the run ran, not the pause before a resume', () => {
    const model = new RunModel(RUN);
    model.add(
      message(
        [
          { t: T0, kind: 'start' },
          batch(0, 100),
          { t: T0 + 100, kind: 'end' },
          // Resumed an hour later; ran 50 s more.
          { t: T0 + 3700, kind: 'start' },
          { ...batch(1, 100), t: T0 + 3750 }
        ],
        { status: 'running' },
        true
      )
    );
    expect(model.timeS).toBe(150);
    // A new history starts again.
    model.add(message([batch(0, 100)], { status: 'running' }, true));
    expect(model.timeS).toBe(0);
  });

  it('computes again only after a change', () => {
    const model = new RunModel(RUN);
    model.add(message([epoch(0, 0.1, 0.05)], { status: 'running' }, true));
    const first = model.summaryTable();
    expect(model.summaryTable()).toBe(first);
    model.add(message([epoch(1, 0.2, 0.1)]));
    expect(model.summaryTable()).not.toBe(first);
    expect(model.summaryTable().bestEpoch).toBe(1);
  });

  it('has no best epoch before an epoch with mAP', () => {
    const model = new RunModel(RUN);
    model.add(message([batch(0, 10)], { status: 'failed' }, true));
    expect(model.summaryTable()).toMatchObject({
      bestEpoch: null,
      bestMap50: null,
      epochsDone: 0,
      epochsPlanned: null,
      // One batch, all of it warm-up: it counts.
      imgsPerS: 10,
      timeS: 0
    });
  });
});

describe('median', () => {
  it('takes the middle of the measures, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([null, undefined, 0, -1, NaN, Infinity, 5])).toBe(5);
    expect(median([])).toBeNull();
  });
});
