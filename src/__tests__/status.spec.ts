import { Notification } from '@jupyterlab/apputils';
import { Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';
import { DetachedCount } from '../status/detached';
import { MIN_STALE_MS, StatusModel } from '../status/model';
import { isSeen, RunNotifier, runNotice, showRun } from '../status/notices';
import { RunWatch } from '../status/watch';
import { TelemetryModel } from '../telemetry/model';
import type { ITelemetrySample } from '../telemetry/types';
import type { IKernelTarget } from '../tokens';
import type { IDetachedRun } from '../training/detached';
import { RunModel } from '../training/model';
import { RunRegistry } from '../training/registry';
import type { IRunEvent, IRunStatus } from '../training/types';

const GIB = 2 ** 30;
const RUN = '/work/runs/train/exp3';

let clock = 0;

/** A sample of the machine with `gpus` GPUs, each one later than the last. */
function sample(gpus: number): ITelemetrySample {
  return {
    t: ++clock,
    cpu_pct: 42,
    ram_used_bytes: 4 * GIB,
    ram_total_bytes: 8 * GIB,
    proc_cpu_pct: 150,
    proc_rss_bytes: 2 * GIB,
    gpus: Array.from({ length: gpus }, (_, index) => ({
      index,
      util_pct: 87 - 2 * index,
      mem_used_bytes: (12 + index) * GIB,
      mem_total_bytes: 80 * GIB,
      temp_c: 70,
      power_w: 350,
      proc_mem_bytes: 11 * GIB
    }))
  };
}

function batch(t: number, epoch: number, b: number): IRunEvent {
  return {
    t,
    kind: 'batch',
    epoch,
    epochs: 50,
    batch: b,
    batches: 10,
    box: 0.1,
    obj: 0.05,
    cls: 0.02,
    imgs_per_s: 100,
    gpu_mem_gib: null
  };
}

function epoch(k: number, map50: number, map: number): IRunEvent {
  return {
    t: 100 + k,
    kind: 'epoch',
    epoch: k,
    epochs: 50,
    precision: 0.5,
    recall: 0.5,
    map50,
    map,
    epoch_time_s: 60
  };
}

/** Feed a run model one message, as the runs client does. */
function feed(
  model: RunModel,
  status: IRunStatus['status'],
  events: IRunEvent[],
  history = false,
  extra: Partial<IRunStatus> = {}
): void {
  model.add({
    v: 1,
    type: 'run_events',
    run: model.run,
    history,
    status: { status, name: 'exp3', ...extra },
    events
  });
}

/** A notebook showing one run view, attached so that it is visible. */
function notebookWithRun(
  registry: RunRegistry,
  run: string
): { notebook: Panel; model: RunModel } {
  const notebook = new Panel();
  const view = new Widget();
  notebook.addWidget(view);
  Widget.attach(notebook, document.body);
  const model = new RunModel(run);
  registry.add(run, view, model);
  return { notebook, model };
}

function telemetryBatch(
  source: 'nvml' | 'psutil',
  s: ITelemetrySample
): Parameters<TelemetryModel['addBatch']>[0] {
  return {
    v: 1,
    type: 'telemetry_batch',
    sampler_id: 'a',
    source,
    interval_s: 1,
    history: false,
    samples: [s]
  };
}

describe('StatusModel', () => {
  let registry: RunRegistry;
  let watch: RunWatch;
  let telemetry: TelemetryModel;
  let notebooks: {
    currentWidget: Widget | null;
    currentChanged: Signal<unknown, unknown>;
  };
  let transport: {
    target: IKernelTarget;
    targetChanged: Signal<unknown, IKernelTarget>;
  };
  let status: StatusModel;

  beforeEach(() => {
    jest.useFakeTimers();
    registry = new RunRegistry();
    watch = new RunWatch(registry);
    telemetry = new TelemetryModel();
    notebooks = { currentWidget: null, currentChanged: new Signal({}) };
    transport = { target: { kind: 'notebook' }, targetChanged: new Signal({}) };
    status = new StatusModel({ telemetry, watch, notebooks, transport });
  });

  afterEach(() => {
    status.dispose();
    watch.dispose();
    jest.useRealTimers();
    document.body.innerHTML = '';
  });

  it('says nothing while telemetry is off and no run goes', () => {
    expect(status.text).toBe('');
    expect(status.visible).toBe(false);
  });

  it("shows the GPU's use and memory, and each GPU in the tooltip", () => {
    telemetry.addBatch(telemetryBatch('nvml', sample(1)));
    expect(status.text).toBe('GPU 87% · 12.0/80.0 GiB');
    expect(status.tooltip).toContain(
      'cuda:0: 87% busy, 12.0 GiB of 80.0 GiB (this kernel: 11.0 GiB)'
    );
    expect(status.visible).toBe(true);
    telemetry.addBatch(telemetryBatch('nvml', sample(2)));
    expect(status.text).toBe('2 GPUs 86% · 25.0/160.0 GiB');
  });

  it('shows CPU and RAM without a GPU', () => {
    telemetry.addBatch(telemetryBatch('psutil', sample(0)));
    expect(status.text).toBe('CPU 42% · RAM 4.0/8.0 GiB');
    expect(status.tooltip).toContain(
      'This kernel: CPU 150% (100% is one core), memory 2.0 GiB'
    );
  });

  it('clears once telemetry stops coming (nobody listens any more)', () => {
    const changes: string[] = [];
    status.changed.connect(() => changes.push(status.text));
    telemetry.addBatch(telemetryBatch('nvml', sample(1)));
    jest.advanceTimersByTime(MIN_STALE_MS - 1000);
    telemetry.addBatch(telemetryBatch('nvml', sample(1)));
    jest.advanceTimersByTime(MIN_STALE_MS - 1000);
    expect(status.text).not.toBe('');
    jest.advanceTimersByTime(2000);
    expect(status.text).toBe('');
    expect(changes).toEqual(['GPU 87% · 12.0/80.0 GiB', '']);
    // Another kernel: its telemetry starts afresh.
    telemetry.addBatch(telemetryBatch('nvml', sample(1)));
    telemetry.clear();
    expect(status.text).toBe('');
  });

  it("shows the current notebook's running run, then clears when it ends", () => {
    const { notebook, model } = notebookWithRun(registry, RUN);
    const other = new Panel();
    notebooks.currentWidget = notebook;
    notebooks.currentChanged.emit(notebook);
    feed(model, 'starting', [], true);
    expect(status.text).toBe('run starting');
    expect(status.run).toBe(RUN);
    feed(model, 'running', [
      batch(40, 0, 0),
      epoch(0, 0.2, 0.1),
      batch(100, 1, 0),
      batch(101, 1, 1)
    ]);
    // Epoch 2 of 50; 48.8 epochs left at 60 s each.
    expect(status.text).toBe('epoch 2/50 · ETA 48 min 48 s');
    expect(status.tooltip).toContain(
      'Run exp3, epoch 2/50, batch 2/10, ETA 48 min 48 s'
    );
    // The run measures itself: its samples stand in for telemetry.
    feed(model, 'running', [
      { t: 102, kind: 'telemetry', sample: sample(1) } as IRunEvent
    ]);
    expect(status.text).toBe(
      'GPU 87% · 12.0/80.0 GiB · epoch 2/50 · ETA 48 min 48 s'
    );
    expect(status.tooltip).toContain('telemetry is off');
    // Another notebook is current: its runs only.
    notebooks.currentWidget = other;
    notebooks.currentChanged.emit(other);
    expect(status.text).toBe('');
    notebooks.currentWidget = notebook;
    notebooks.currentChanged.emit(notebook);
    expect(status.run).toBe(RUN);
    feed(model, 'finished', [{ t: 200, kind: 'end', status: 'finished' }]);
    expect(status.text).toBe('');
    expect(status.run).toBeNull();
  });

  it('with a kernel on another server, shows runs wherever their views are', () => {
    const { model } = notebookWithRun(registry, RUN);
    feed(model, 'running', [batch(1, 0, 0)], true);
    expect(status.text).toBe('');
    transport.target = { kind: 'server', url: 'http://gpu:8888' };
    transport.targetChanged.emit(transport.target);
    expect(status.text).toBe('epoch 1/50');
  });
});

describe('the detached runs count', () => {
  /** A live detached run, as GET /yolo-lab/runs lists it. */
  function detachedRun(name: string, done: number): IDetachedRun {
    return {
      run: `/work/runs/train/${name}`,
      name,
      status: 'running',
      epochs_done: done,
      epochs: 30,
      last: null,
      best: null,
      pid: 4242,
      detached: true
    };
  }

  /** Wait (real timers) until `condition` holds; fail after two seconds. */
  async function until(condition: () => boolean): Promise<void> {
    for (let waited = 0; !condition(); waited += 5) {
      if (waited > 2000) {
        throw new Error(`not true in 2 s: ${condition}`);
      }
      await new Promise(done => setTimeout(done, 5));
    }
  }

  it('says how many runs keep going without a kernel, and names them', async () => {
    let listed: IDetachedRun[] = [];
    let reads = 0;
    const count = new DetachedCount({
      list: async () => {
        reads++;
        return listed;
      },
      intervalMs: 60000
    });
    const registry = new RunRegistry();
    const watch = new RunWatch(registry);
    const status = new StatusModel({
      telemetry: null,
      watch,
      notebooks: { currentWidget: null, currentChanged: new Signal({}) },
      transport: {
        target: { kind: 'notebook' },
        targetChanged: new Signal({})
      },
      detached: count
    });
    await until(() => reads >= 1);
    expect(status.text).toBe('');
    expect(status.visible).toBe(false);

    listed = [detachedRun('night', 12), detachedRun('day', 3)];
    await count.refresh();
    await until(() => status.text !== '');
    expect(status.text).toBe('2 detached runs');
    expect(status.visible).toBe(true);
    expect(status.tooltip).toContain(
      '2 runs keep going on the server without a kernel:'
    );
    expect(status.tooltip).toContain('night: running, 12/30 epochs');
    expect(status.tooltip).toContain('Click to open the yolo-lab panel.');

    // A run of this page starting reads the list again (it may be detached).
    const before = reads;
    const { model } = notebookWithRun(registry, RUN);
    feed(model, 'running', [batch(1, 0, 0)], true);
    await until(() => reads > before);

    // A failed read (no server extension) counts none.
    let failed = 0;
    const fail = new DetachedCount({
      list: () => {
        failed++;
        return Promise.reject(new Error('HTTP 404'));
      },
      intervalMs: 60000
    });
    await until(() => failed >= 1);
    expect(fail.runs).toEqual([]);
    fail.dispose();

    // The runs end: the count goes.
    listed = [];
    await count.refresh();
    await until(() => !status.text.includes('detached'));
    status.dispose();
    count.dispose();
    watch.dispose();
    expect(count.isDisposed).toBe(true);
    document.body.innerHTML = '';
  });
});

describe('RunWatch', () => {
  it('reports a run that stops going once, and not one that had ended', () => {
    const registry = new RunRegistry();
    const watch = new RunWatch(registry);
    const ended: string[] = [];
    watch.ended.connect((_, model) => ended.push(model.run));
    const old = new RunModel('/runs/old');
    registry.add(old.run, new Widget(), old);
    feed(old, 'finished', [], true);
    const live = new RunModel(RUN);
    const handle = registry.add(RUN, new Widget(), live);
    // A second view of the same run.
    const second = new RunModel(RUN);
    registry.add(RUN, new Widget(), second);
    feed(live, 'running', [batch(1, 0, 0)], true);
    feed(second, 'running', [batch(1, 0, 0)], true);
    expect(watch.running().map(m => m.run)).toEqual([RUN]);
    feed(live, 'failed', []);
    feed(second, 'failed', []);
    expect(ended).toEqual([RUN]);
    expect(watch.running()).toEqual([]);
    handle.dispose();
    watch.dispose();
  });
});

describe('runNotice', () => {
  const ended = (
    status: IRunStatus['status'],
    events: IRunEvent[],
    extra: Partial<IRunStatus> = {}
  ): RunModel => {
    const model = new RunModel(RUN);
    feed(model, 'running', [batch(1, 0, 0)], true);
    feed(model, status, events, false, extra);
    return model;
  };

  it('says a run finished, with its best mAP and an Open action', () => {
    const model = ended('finished', [
      epoch(0, 0.5, 0.3),
      epoch(1, 0.7, 0.4),
      {
        t: 300,
        kind: 'summary',
        epoch: 1,
        last: '/r/last.pt',
        best: '/r/best.pt',
        precision: 0.8,
        recall: 0.7,
        map50: 0.712,
        map: 0.455
      }
    ]);
    expect(runNotice(model, false)).toEqual({
      type: 'success',
      message: 'Run exp3 finished: mAP@0.5 0.712, mAP@0.5:0.95 0.455.',
      run: RUN,
      openLabel: 'Open',
      autoClose: 10000
    });
    // Without a final validation: the best epoch's.
    const noSummary = ended('finished', [
      epoch(0, 0.6, 0.3),
      epoch(1, 0.5, 0.2)
    ]);
    expect(runNotice(noSummary, false)?.message).toBe(
      'Run exp3 finished: mAP@0.5 0.600, mAP@0.5:0.95 0.300.'
    );
  });

  it('says a run failed, with what to do', () => {
    const model = ended('failed', [
      {
        t: 5,
        kind: 'error',
        code: 'cuda_oom',
        message: 'CUDA ran out of memory',
        fix: 'try batch_size=8'
      }
    ]);
    expect(runNotice(model, false)).toMatchObject({
      type: 'error',
      message: 'Run exp3 failed. What to do: try batch_size=8',
      openLabel: 'Open',
      autoClose: false
    });
    // The fix from the status file when no error event came.
    const fromStatus = ended('failed', [], {
      message: 'dataset not found',
      fix: 'check the data path'
    });
    expect(runNotice(fromStatus, false)?.message).toBe(
      'Run exp3 failed. What to do: check the data path'
    );
  });

  it('says a run stopped, at which epoch', () => {
    const model = ended('stopped', [batch(2, 11, 3)]);
    expect(runNotice(model, false)).toMatchObject({
      type: 'info',
      message: 'Run exp3 stopped at epoch 12/50.',
      run: RUN
    });
  });

  it('says nothing of what the user looks at, nor of a run still going', () => {
    const model = ended('finished', []);
    expect(runNotice(model, true)).toBeNull();
    const going = new RunModel(RUN);
    feed(going, 'running', [], true);
    expect(runNotice(going, false)).toBeNull();
    expect(runNotice(ended('unknown', []), false)).toBeNull();
  });

  it('knows what the user looks at: a visible current widget showing the run', () => {
    const registry = new RunRegistry();
    const { notebook } = notebookWithRun(registry, RUN);
    const other = new Panel();
    Widget.attach(other, document.body);
    expect(isSeen(registry, RUN, notebook, true)).toBe(true);
    // The browser tab is hidden, another widget is current, or none.
    expect(isSeen(registry, RUN, notebook, false)).toBe(false);
    expect(isSeen(registry, RUN, other, true)).toBe(false);
    expect(isSeen(registry, RUN, null, true)).toBe(false);
    notebook.hide();
    expect(isSeen(registry, RUN, notebook, true)).toBe(false);
    document.body.innerHTML = '';
  });

  it('opens the widget that shows the run, else a new view', async () => {
    const registry = new RunRegistry();
    const { notebook } = notebookWithRun(registry, RUN);
    notebook.id = 'notebook-1';
    const activated: string[] = [];
    const opened: string[] = [];
    const options = {
      registry,
      mainWidgets: () => [new Panel(), notebook],
      activate: (id: string) => activated.push(id),
      openRun: async (run: string) => opened.push(run)
    };
    await showRun(RUN, options);
    await showRun('/runs/elsewhere', options);
    expect(activated).toEqual(['notebook-1']);
    expect(opened).toEqual(['/runs/elsewhere']);
    document.body.innerHTML = '';
  });

  it('notifies of a run that ends out of sight, with an action that opens it', () => {
    const emit = jest.spyOn(Notification, 'emit').mockReturnValue('id');
    const registry = new RunRegistry();
    const watch = new RunWatch(registry);
    const { notebook, model } = notebookWithRun(registry, RUN);
    const other = new Panel();
    Widget.attach(other, document.body);
    let current: Widget = other;
    const opened: string[] = [];
    const notifier = new RunNotifier({
      watch,
      current: () => current,
      open: run => opened.push(run)
    });
    feed(model, 'running', [batch(1, 0, 0)], true);
    feed(model, 'stopped', []);
    expect(emit).toHaveBeenCalledTimes(1);
    const [message, type, options] = emit.mock.calls[0];
    expect([message, type]).toEqual([
      'Run exp3 stopped at epoch 1/50.',
      'info'
    ]);
    expect(options?.actions?.map(a => a.label)).toEqual(['Open']);
    options!.actions![0].callback(new MouseEvent('click'));
    expect(opened).toEqual([RUN]);
    // Resumed and stopped again while its notebook is in view: no notice.
    current = notebook;
    feed(model, 'running', [{ t: 3, kind: 'start', params: {} }]);
    feed(model, 'stopped', []);
    expect(emit).toHaveBeenCalledTimes(1);
    notifier.dispose();
    watch.dispose();
    emit.mockRestore();
    document.body.innerHTML = '';
  });
});
