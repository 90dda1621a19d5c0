/**
 * The training form's checks and the cell it writes; the run model.
 */
import * as fs from 'fs';
import * as path from 'path';
import {
  autotuneCellText,
  cellText,
  DEFAULT_FORM,
  defaultDevices,
  formFromMetadata,
  IHardware,
  ITrainForm,
  suggestBatchSize,
  validateForm
} from '../training/form';
import { RunModel } from '../training/model';
import type { IRunEventsMessage } from '../training/types';

const GIB = 2 ** 30;
const CPU_ONLY: IHardware = { gpus: [] };
// Fabricated: this machine has no GPU.
const TWO_GPUS: IHardware = {
  gpus: [
    { index: 0, name: 'H100', memoryTotalBytes: 80 * GIB, memoryUsedBytes: 0 },
    { index: 1, name: 'H100', memoryTotalBytes: 80 * GIB, memoryUsedBytes: 0 }
  ]
};

function form(changes: Partial<ITrainForm> = {}): ITrainForm {
  return { ...DEFAULT_FORM, data: 'shapes/data.yaml', ...changes };
}

describe('validateForm', () => {
  it('accepts the defaults with a dataset on the CPU', () => {
    expect(validateForm(form(), CPU_ONLY)).toEqual({});
  });

  // Each rule's cases are in the table both languages run
  // (protocol/train_params.cases.json, train-params.spec.ts); here, the
  // form's own part: every error under its form field, several at once.
  it('refuses no device, and the CPU with a GPU (fabricated GPUs)', () => {
    expect(validateForm(form({ devices: [] }), CPU_ONLY).devices).toContain(
      'Pick a device'
    );
    expect(
      validateForm(form({ devices: ['cpu', 'cuda:0'] }), TWO_GPUS).devices
    ).toContain('alone');
  });

  it('checks the other fields', () => {
    const errors = validateForm(
      form({
        data: '',
        workers: 'x',
        epochs: '0',
        imgsz: '16',
        name: 'my run',
        model: '',
        weights: ''
      }),
      CPU_ONLY
    );
    expect(Object.keys(errors).sort()).toEqual(
      ['data', 'epochs', 'imgsz', 'model', 'name', 'workers'].sort()
    );
    expect(validateForm(form({ data: 'x.json' }), CPU_ONLY).data).toContain(
      '.yaml'
    );
    expect(
      validateForm(form({ weights: 'https://x/y.pt2' }), CPU_ONLY).weights
    ).toContain('.pt');
  });
});

describe('cellText', () => {
  it('writes a short, readable train() call from the form', () => {
    const text = cellText(
      form({ batchSize: '8', epochs: '5', imgsz: '128', workers: '0' })
    );
    expect(text).toBe(
      [
        'from yolo_lab import train',
        '',
        'run = train(',
        '    data="shapes/data.yaml",',
        '    model="yolov5n.yaml",',
        '    device="cpu",',
        '    batch_size=8,',
        '    amp=None,',
        '    epochs=5,',
        '    imgsz=128,',
        '    workers=0,',
        '    cache=None,',
        '    name="exp",',
        ')',
        'run'
      ].join('\n')
    );
  });

  it('writes DDP devices, auto batch, AMP, weights, cache and a checkout', () => {
    const text = cellText(
      form({
        devices: ['cuda:0', 'cuda:1'],
        batchSize: 'auto',
        amp: true,
        weights: '/w/best.pt',
        cache: 'ram',
        project: '/runs',
        yolov5Dir: '/workspace/yolov5'
      })
    );
    expect(text).toContain('device=["cuda:0", "cuda:1"],');
    expect(text).toContain('batch_size="auto",');
    expect(text).toContain('amp=True,');
    expect(text).toContain('weights="/w/best.pt",');
    expect(text).toContain('cache="ram",');
    expect(text).toContain('project="/runs",');
    expect(text).toContain('yolov5_dir="/workspace/yolov5",');
    expect(text).not.toContain('detach');
  });

  it('writes AMP as train() takes it: None (automatic) unless forced', () => {
    // The definition's default, read from it: not written again here.
    expect(DEFAULT_FORM.amp).toBeNull();
    expect(cellText(form())).toContain('    amp=None,\n');
    expect(cellText(form({ amp: true }))).toContain('    amp=True,\n');
    expect(cellText(form({ amp: false }))).toContain('    amp=False,\n');
    expect(autotuneCellText(form())).toContain('    amp=None,\n');
    expect(autotuneCellText(form({ amp: false }))).toContain(
      '    amp=False,\n'
    );
    // Automatic and forced off are fine on the CPU; forced on is refused.
    expect(validateForm(form({ amp: null }), CPU_ONLY)).toEqual({});
    expect(validateForm(form({ amp: false }), CPU_ONLY)).toEqual({});
    expect(validateForm(form({ amp: true }), CPU_ONLY).amp).toContain(
      'needs a CUDA device'
    );
  });

  it('asks for a detached run only when the form says so', () => {
    expect(cellText(form({ detach: true }))).toContain('    detach=True,\n)');
    expect(formFromMetadata({ detach: true }).detach).toBe(true);
    expect(formFromMetadata({ detach: 'yes' }).detach).toBe(false);
  });

  it('quotes paths as Python string literals', () => {
    const text = cellText(form({ data: 'my "data"\\set.yaml' }));
    expect(text).toContain('data="my \\"data\\"\\\\set.yaml",');
  });
});

describe('a run on a Slurm cluster', () => {
  const slurm = (changes: Partial<ITrainForm> = {}): ITrainForm =>
    form({
      where: 'slurm',
      slurmPartition: 'debug',
      slurmNodes: '2',
      slurmTime: '10:00',
      batchSize: '8',
      ...changes
    });

  it('writes cluster=Slurm(...) instead of a device, and no detach', () => {
    const text = cellText(slurm({ detach: true, devices: ['cuda:0'] }));
    expect(text).toContain('from yolo_lab import Slurm, train\n');
    expect(text).toContain(
      '    cluster=Slurm(partition="debug", nodes=2, time="10:00"),\n'
    );
    expect(text).not.toContain('device=');
    expect(text).not.toContain('detach=');
    // Each node's GPUs, an account; CPU processes per node only on the CPU.
    const gpus = cellText(
      slurm({ slurmGpusPerNode: '4', slurmAccount: 'lab', nproc: '2' })
    );
    expect(gpus).toContain(
      'cluster=Slurm(partition="debug", nodes=2, gpus_per_node=4, time="10:00", account="lab")'
    );
    expect(gpus).not.toContain('nproc=');
    expect(cellText(slurm({ nproc: '2' }))).toContain('    nproc=2,\n');
  });

  it("checks the request, not this kernel's GPUs (none here)", () => {
    expect(validateForm(slurm(), CPU_ONLY)).toEqual({});
    // GPUs on the nodes: fine from a login node without any.
    expect(
      validateForm(slurm({ slurmGpusPerNode: '2', amp: true }), CPU_ONLY)
    ).toEqual({});
    const errors = validateForm(
      slurm({
        slurmNodes: '0',
        slurmGpusPerNode: 'two',
        slurmPartition: 'debug; rm -rf ~',
        slurmTime: 'four hours'
      }),
      CPU_ONLY
    );
    expect(Object.keys(errors).sort()).toEqual([
      'slurmGpusPerNode',
      'slurmNodes',
      'slurmPartition',
      'slurmTime'
    ]);
  });

  it('refuses a batch the processes of all nodes cannot share', () => {
    const odd = validateForm(slurm({ nproc: '2', batchSize: '6' }), CPU_ONLY);
    expect(odd.batchSize).toContain("over the run's 4 processes (2 nodes)");
    const auto = validateForm(
      slurm({ slurmGpusPerNode: '1', batchSize: 'auto' }),
      CPU_ONLY
    );
    expect(auto.batchSize).toContain('sizes one GPU');
    expect(
      validateForm(slurm({ nproc: '2', batchSize: '8' }), CPU_ONLY)
    ).toEqual({});
  });

  it('keeps the choice in the notebook, and refuses a junk one', () => {
    expect(formFromMetadata({ where: 'slurm' }).where).toBe('slurm');
    expect(formFromMetadata({ where: 'cloud' }).where).toBe('kernel');
  });
});

describe('suggestBatchSize', () => {
  it('suggests nothing on the CPU', () => {
    expect(suggestBatchSize(form(), CPU_ONLY)).toBeNull();
  });

  it('grows with free memory and AMP, per GPU (fabricated GPUs)', () => {
    const one = suggestBatchSize(
      form({ devices: ['cuda:0'], model: 'yolov5s.yaml' }),
      TWO_GPUS
    )!;
    const amp = suggestBatchSize(
      form({ devices: ['cuda:0'], model: 'yolov5s.yaml', amp: true }),
      TWO_GPUS
    )!;
    const two = suggestBatchSize(
      form({ devices: ['cuda:0', 'cuda:1'], model: 'yolov5s.yaml' }),
      TWO_GPUS
    )!;
    const off = suggestBatchSize(
      form({ devices: ['cuda:0'], model: 'yolov5s.yaml', amp: false }),
      TWO_GPUS
    )!;
    // The default, automatic, is on with CUDA: the estimate of forced on.
    expect(one).toBe(amp);
    expect(one % 8).toBe(0);
    expect(amp).toBeGreaterThan(off);
    expect(two % 2).toBe(0);
    expect(two).toBeGreaterThan(one);
    const busy: IHardware = {
      gpus: [{ ...TWO_GPUS.gpus[0], memoryUsedBytes: 70 * GIB }]
    };
    expect(
      suggestBatchSize(
        form({ devices: ['cuda:0'], model: 'yolov5s.yaml' }),
        busy
      )!
    ).toBeLessThan(one);
  });
});

describe('formFromMetadata', () => {
  it('reads saved values and ignores junk', () => {
    const saved = formFromMetadata({
      batchSize: '8',
      devices: ['cuda:0'],
      amp: true,
      cache: 'disk',
      epochs: 7,
      unknown: 'x'
    });
    expect(saved.batchSize).toBe('8');
    expect(saved.devices).toEqual(['cuda:0']);
    expect(saved.amp).toBe(true);
    expect(saved.cache).toBe('disk');
    expect(saved.epochs).toBe(DEFAULT_FORM.epochs);
    expect(formFromMetadata(null)).toEqual(DEFAULT_FORM);
  });

  it('reads AMP as automatic, on or off; saved booleans stay forced', () => {
    expect(formFromMetadata({}).amp).toBeNull();
    expect(formFromMetadata({ amp: null }).amp).toBeNull();
    // A form saved before AMP had an automatic choice: its value is kept.
    expect(formFromMetadata({ amp: true }).amp).toBe(true);
    expect(formFromMetadata({ amp: false }).amp).toBe(false);
    expect(formFromMetadata({ amp: 'yes' }).amp).toBeNull();
  });

  it('knows whether the devices were picked', () => {
    // Not saved: not picked, they follow the kernel.
    expect(formFromMetadata({ batchSize: '8' }).devicesChosen).toBe(false);
    expect(
      formFromMetadata({ devices: ['cuda:0'], devicesChosen: false })
        .devicesChosen
    ).toBe(false);
    expect(
      formFromMetadata({ devices: ['cpu'], devicesChosen: true }).devicesChosen
    ).toBe(true);
    // A form saved before the distinction: its devices are kept as picked.
    expect(formFromMetadata({ devices: ['cpu'] })).toMatchObject({
      devices: ['cpu'],
      devicesChosen: true
    });
  });
});

describe('defaultDevices', () => {
  it('is the first GPU the kernel sees, else the CPU (fabricated GPUs)', () => {
    expect(defaultDevices(CPU_ONLY)).toEqual(['cpu']);
    expect(defaultDevices(TWO_GPUS)).toEqual(['cuda:0']);
    // The lowest index the kernel reports, whatever the report's order.
    expect(
      defaultDevices({
        gpus: [TWO_GPUS.gpus[1], { ...TWO_GPUS.gpus[0], index: 3 }]
      })
    ).toEqual(['cuda:1']);
  });
});

describe('RunModel', () => {
  const run = '/runs/train/exp';
  const batch = (t: number, epoch: number, b: number) => ({
    t,
    kind: 'batch',
    epoch,
    epochs: 2,
    batch: b,
    batches: 4,
    box: 0.1,
    obj: 0.02,
    cls: 0.03,
    imgs_per_s: 50,
    gpu_mem_gib: null
  });
  const message = (
    history: boolean,
    events: Array<Record<string, unknown>>,
    status = 'running'
  ): IRunEventsMessage => ({
    v: 1,
    type: 'run_events',
    run,
    history,
    status: { status: status as 'running' },
    events: events as any
  });

  it('replaces on history, appends live events, estimates the ETA', () => {
    const model = new RunModel(run);
    model.add(message(true, [batch(100, 0, 0), batch(101, 0, 1)]));
    expect(model.batches).toHaveLength(2);
    model.add(message(false, [batch(102, 0, 2)]));
    expect(model.batches).toHaveLength(3);
    const progress = model.progress()!;
    expect(progress).toMatchObject({ epoch: 0, batch: 2, batches: 4 });
    // 1 s per batch, 5 batches left.
    expect(progress.etaS).toBeCloseTo(5);
    model.add(message(true, [batch(100, 0, 0)]));
    expect(model.batches).toHaveLength(1);
  });

  it('keeps the end, the weights and the error', () => {
    const model = new RunModel(run);
    model.add(
      message(
        true,
        [
          {
            t: 1,
            kind: 'amp',
            enabled: false,
            requested: false,
            reason: 'off'
          },
          { t: 2, kind: 'saved', epoch: 0, last: '/r/last.pt', final: false },
          {
            t: 3,
            kind: 'error',
            code: 'cuda_oom',
            message: 'CUDA ran out of memory',
            fix: 'try batch_size=8'
          },
          {
            t: 4,
            kind: 'end',
            status: 'failed',
            last: '/r/last.pt',
            best: null
          }
        ],
        'failed'
      )
    );
    expect(model.active).toBe(false);
    expect(model.amp).toEqual({
      enabled: false,
      requested: false,
      reason: 'off'
    });
    expect(model.weights).toEqual({ last: '/r/last.pt', best: null });
    expect(model.error?.fix).toBe('try batch_size=8');
    expect(model.progress()).toBeNull();
  });

  it('keeps the autobatch size, the notices and the summary', () => {
    const model = new RunModel(run);
    model.add(
      message(
        true,
        [
          { t: 1, kind: 'autobatch', batch_size: 96 },
          { t: 2, kind: 'notice', message: 'no telemetry: NVML lost' },
          {
            t: 3,
            kind: 'summary',
            epoch: 2,
            last: '/r/last.pt',
            best: '/r/best.pt',
            precision: 0.5,
            recall: 0.6,
            map50: 0.7,
            map: 0.4
          }
        ],
        'finished'
      )
    );
    expect(model.autobatch).toBe(96);
    expect(model.notices).toEqual(['no telemetry: NVML lost']);
    expect(model.summary?.map50).toBe(0.7);
    // A resumed run starts again: the old summary no longer holds.
    model.add(message(false, [{ t: 4, kind: 'start', params: {} }]));
    expect(model.summary).toBeNull();
    expect(model.autobatch).toBe(96);
  });

  it("keeps a DDP rank's error with its traceback, and a hang as a notice", () => {
    const model = new RunModel(run);
    model.add(
      message(
        true,
        [
          { t: 1, kind: 'start', world_size: 2, ddp: 'cpu-gloo', params: {} },
          {
            t: 2,
            kind: 'hung',
            seconds: 612,
            message: 'No rank has started a batch for 612 s',
            ranks: [{ rank: 0, pid: 7, batches: 3, stack: 'File "x"' }]
          },
          {
            t: 3,
            kind: 'error',
            code: 'training_failed',
            message: 'rank 1: RuntimeError: boom',
            fix: 'see the log',
            rank: 1,
            traceback: 'Traceback (most recent call last):\nRuntimeError: boom'
          }
        ],
        'failed'
      )
    );
    expect(model.notices).toEqual(['No rank has started a batch for 612 s']);
    expect(model.error).toMatchObject({ rank: 1, code: 'training_failed' });
    expect(model.error?.traceback).toContain('RuntimeError: boom');
  });

  it('ignores messages of other runs', () => {
    const model = new RunModel(run);
    model.add({ ...message(true, [batch(1, 0, 0)]), run: '/other' });
    expect(model.loaded).toBe(false);
  });
});

describe('the default cell on a GPU machine (fabricated GPU)', () => {
  it('is the cell pytest trains with AMP automatic (protocol/default_cell_one_gpu.py)', () => {
    // The panel's form on a kernel with one GPU, nothing picked: the first
    // GPU and AMP automatic. tests/python/test_amp.py runs this same text
    // on a fabricated CUDA device; the two sides cannot drift.
    const oneGpu: IHardware = { gpus: [TWO_GPUS.gpus[0]] };
    const cell = cellText(
      form({ data: 'shapes/data.yaml', devices: defaultDevices(oneGpu) })
    );
    const golden = fs.readFileSync(
      path.join(__dirname, '..', '..', 'protocol', 'default_cell_one_gpu.py'),
      'utf-8'
    );
    expect(cell + '\n').toBe(golden);
    expect(cell).toContain('device="cuda:0"');
    expect(cell).toContain('amp=None');
  });
});
