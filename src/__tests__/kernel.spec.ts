/**
 * The transport and its clients against a real Jupyter server and real
 * Python kernels with yolo_lab installed: connect, requests and replies, a
 * restart, a kernel change, a remote server; the doctor, runs and telemetry
 * clients; the training controller in notebook and server mode.
 */
import { SessionContext } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { MimeModel } from '@jupyterlab/rendermime';
import { ServiceManager } from '@jupyterlab/services';
import { JupyterServer } from '@jupyterlab/testing';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { EnvironmentClient } from '../environment/client';
import type { IDoctorReportMessage } from '../protocol';
import type { FormFix } from '../protocol.generated';
import { TelemetryClient } from '../telemetry/client';
import { TelemetryOutput } from '../telemetry/output';
import { TELEMETRY_MIME } from '../telemetry/types';
import { definitionCheck } from '../validator';
import { FormInvalidError, TrainingController } from '../training/controller';
import { DEFAULT_FORM, type ITrainForm } from '../training/form';
import { RunsClient } from '../training/runs';
import { AUTOTUNE_MIME } from '../training/autotune';
import { AutotuneView } from '../training/autotuneView';
import type { INotebookCells, OutputBundles } from '../training/tokens';
import type { IRunDisplay, IRunEventsMessage } from '../training/types';
import type { IConnection } from '../tokens';
import { TransportError } from '../channel';
import { KernelTransport } from '../transport';

jest.setTimeout(180_000);

const server = new JupyterServer();

beforeAll(async () => {
  // Root in CI containers. The helper binds localhost with a token and
  // finds the URL in the INFO log.
  await server.start({
    configData: {
      ServerApp: { allow_root: true, log_level: 'INFO' },
      LabApp: { log_level: 'INFO' },
      MultiKernelManager: { default_kernel_name: 'ipython' }
    }
  });
});

/** What the notebook tracker gives the transport: the current session. */
class Source {
  current: SessionContext | null = null;
  currentChanged = new Signal<this, void>(this);
  set(context: SessionContext | null): void {
    this.current = context;
    this.currentChanged.emit();
  }
}

const FAILED = ['missing-package', 'unsupported-kernel', 'error'];

/** Resolve when the connection reaches `phase`; reject when it fails. */
function reach(
  transport: KernelTransport,
  phase: IConnection['phase'],
  after = 0
): Promise<IConnection> {
  return new Promise((resolve, reject) => {
    const check = (_: unknown, c: IConnection): void => {
      if (c.phase === phase && c.epoch > after) {
        transport.connectionChanged.disconnect(check);
        resolve(c);
      } else if (FAILED.includes(c.phase) && phase !== c.phase) {
        transport.connectionChanged.disconnect(check);
        reject(new Error(`${c.phase}: ${c.detail}`));
      }
    };
    if (
      transport.connection.phase === phase &&
      transport.connection.epoch > after
    ) {
      resolve(transport.connection);
      return;
    }
    transport.connectionChanged.connect(check);
  });
}

let manager: ServiceManager;
const contexts: SessionContext[] = [];

/** A notebook session with a real kernel. */
async function session(path: string): Promise<SessionContext> {
  const context = new SessionContext({
    sessionManager: manager.sessions,
    specsManager: manager.kernelspecs,
    path,
    kernelPreference: { name: 'ipython' }
  });
  contexts.push(context);
  await context.initialize();
  await context.ready;
  return context;
}

beforeAll(async () => {
  manager = new ServiceManager({ standby: 'never' });
  await manager.ready;
});

afterAll(async () => {
  for (const context of contexts) {
    await context.shutdown().catch(() => undefined);
    context.dispose();
  }
  manager.dispose();
  await server.shutdown();
});

describe('KernelTransport with a real kernel', () => {
  it('connects, answers a request and delivers messages', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    expect(transport.connection.phase).toBe('no-kernel');
    const context = await session('a.ipynb');
    source.set(context);
    const connected = await reach(transport, 'connected');
    expect(connected.notebookPath).toBe('a.ipynb');
    expect(connected.kernel).toBe(context.session!.kernel!.id);
    const reply = await transport.request<IDoctorReportMessage>(
      { type: 'doctor_request', workers: 0 },
      { timeoutMs: null }
    );
    expect(reply.type).toBe('doctor_report');
    expect(typeof reply.report.python.version).toBe('string');
    // A malformed request is answered with an error carrying its id.
    await expect(
      transport.request({ type: 'runs_request', project: 42 })
    ).rejects.toBeInstanceOf(TransportError);
    // Messages that answer no request arrive as signals.
    const batch = new Promise(resolve =>
      transport.received.connect((_, m) => {
        if (m.type === 'telemetry_batch') {
          resolve(m);
        }
      })
    );
    transport.send({ type: 'telemetry_subscribe', id: 't', interval_s: 0.2 });
    await expect(batch).resolves.toMatchObject({ type: 'telemetry_batch' });
    transport.send({ type: 'telemetry_unsubscribe', id: null });
    transport.dispose();
  });

  it('reconnects after a restart; a request in flight is rejected', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const context = await session('b.ipynb');
    source.set(context);
    const first = await reach(transport, 'connected');
    const pending = transport.request({ type: 'doctor_request' });
    pending.catch(() => undefined);
    await context.session!.kernel!.restart();
    await expect(pending).rejects.toMatchObject({ code: 'disconnected' });
    const second = await reach(transport, 'connected', first.epoch);
    expect(second.epoch).toBeGreaterThan(first.epoch);
    expect(second.kernel).toBe(first.kernel);
    const reply = await transport.request({ type: 'runs_request' });
    expect(reply.type).toBe('runs_list');
    transport.dispose();
  });

  it('answers through the new kernel after a kernel change', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const one = await session('c.ipynb');
    const two = await session('d.ipynb');
    source.set(one);
    const first = await reach(transport, 'connected');
    source.set(two);
    const second = await reach(transport, 'connected', first.epoch);
    expect(second.kernel).toBe(two.session!.kernel!.id);
    expect(second.kernel).not.toBe(first.kernel);
    expect(second.notebookPath).toBe('d.ipynb');
    // The same kernel object for a changed one: changeKernel.
    await two.changeKernel({ name: 'ipython' });
    const third = await reach(transport, 'connected', second.epoch);
    expect(third.kernel).toBe(two.session!.kernel!.id);
    expect(third.kernel).not.toBe(second.kernel);
    const reply = await transport.request({ type: 'runs_request' });
    expect(reply.type).toBe('runs_list');
    // No notebook: no kernel, and requests say so.
    source.set(null);
    await reach(transport, 'no-kernel', third.epoch);
    await expect(
      transport.request({ type: 'runs_request' })
    ).rejects.toMatchObject({ code: 'disconnected' });
    transport.dispose();
  });

  it('talks to a kernel started on a server by URL and token', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const targets: string[] = [];
    transport.targetChanged.connect((_, t) => targets.push(t.kind));
    const url = PageConfig.getBaseUrl();
    const token = PageConfig.getToken();
    await transport.connectServer(url, token, 'ipython');
    await reach(transport, 'connected');
    expect(transport.target).toEqual({ kind: 'server', url });
    const reply = await transport.request({ type: 'runs_request' });
    expect(reply.type).toBe('runs_list');
    await transport.disconnectServer();
    expect(transport.target).toEqual({ kind: 'notebook' });
    expect(transport.connection.phase).toBe('no-kernel');
    expect(targets).toEqual(['server', 'notebook']);
    await expect(transport.connectServer('not a url', '')).rejects.toThrow(
      /is not a URL/
    );
    transport.dispose();
  });
});

/** The notebook side, recorded: the cells the controller writes. */
class RecordingCells implements INotebookCells {
  current: Widget | null = new Widget();
  cells: Array<{ code: string; run: boolean }> = [];
  saved: ITrainForm[] = [];
  formChanged = new Signal<this, ITrainForm | null>(this);
  loadForm(): ITrainForm | null {
    return this.current ? { ...DEFAULT_FORM, data: 'data.yaml' } : null;
  }
  saveForm(form: ITrainForm): void {
    this.saved.push(form);
  }
  /** What the next run cell outputs (a kernel's display data). */
  outputs: OutputBundles = [];
  /** Called while a cell "runs" (another notebook may become current). */
  whileRunning: () => void = () => undefined;
  async insert(code: string, run: boolean): Promise<OutputBundles> {
    this.cells.push({ code, run });
    if (!run) {
      return [];
    }
    this.whileRunning();
    return this.outputs;
  }
}

describe('the clients of the transport', () => {
  it('the doctor reports, runs are listed, a missing run says so', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const environment = new EnvironmentClient(transport);
    environment.configure({ checkOnConnect: false, workers: 0 });
    const runs = new RunsClient(transport);
    source.set(await session('e.ipynb'));
    await reach(transport, 'connected');
    expect(environment.model.state.phase).toBe('connected');
    await environment.check();
    expect(environment.model.state.phase).toBe('ready');
    expect(environment.model.state.report?.workers).toBe(0);
    await expect(runs.list('/nonexistent/runs')).resolves.toEqual([]);
    const missing = new Promise<IRunEventsMessage>(resolve =>
      runs.listen('/nonexistent/runs/exp', resolve)
    );
    const message = await missing;
    expect(message.status.status).toBe('unknown');
    expect(message.status.message).toMatch(/not a run folder/);
    expect(runs.active()).toEqual([]);
    runs.dispose();
    environment.dispose();
    transport.dispose();
  });

  it('telemetry flows while someone listens, and starts again after a restart', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const telemetry = new TelemetryClient(transport);
    telemetry.intervalS = 0.2;
    const context = await session('f.ipynb');
    source.set(context);
    const first = await reach(transport, 'connected');
    const samples = (): number => telemetry.model.buffer.entries.length;
    const grows = (from: number): Promise<void> =>
      new Promise(resolve => {
        const check = (): void => {
          if (samples() > from) {
            telemetry.model.changed.disconnect(check);
            resolve();
          }
        };
        telemetry.model.changed.connect(check);
      });
    const listening = telemetry.listen();
    await grows(0);
    await context.session!.kernel!.restart();
    await reach(transport, 'connected', first.epoch);
    // The same kernel restarted: its history is kept (a gap), and the new
    // process is subscribed again without anyone asking.
    await grows(samples());
    listening.dispose();
    telemetry.dispose();
    transport.dispose();
  });
});

type DisplayMessage = {
  data: ReadonlyPartialJSONObject;
  transient?: { display_id?: string };
};

/**
 * Run `code`; resolve with the display data and updates the kernel
 * published meanwhile, whichever request they name as parent (an update
 * from a thread may name an earlier cell's).
 */
async function displays(
  context: SessionContext,
  code: string
): Promise<DisplayMessage[]> {
  const kernel = context.session!.kernel!;
  const shown: DisplayMessage[] = [];
  const collect = (
    _: unknown,
    msg: { header: { msg_type: string }; content: unknown }
  ): void => {
    const type = msg.header.msg_type;
    if (type === 'display_data' || type === 'update_display_data') {
      shown.push(msg.content as DisplayMessage);
    }
  };
  kernel.iopubMessage.connect(collect);
  try {
    const reply = await kernel.requestExecute({ code }).done;
    expect(reply.content.status).toBe('ok');
  } finally {
    kernel.iopubMessage.disconnect(collect);
  }
  return shown;
}

describe('a monitor output with a real kernel', () => {
  it('takes live points from the stream, keeps the monitor interval, lets go once stopped', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const telemetry = new TelemetryClient(transport);
    const context = await session('monitor.ipynb');
    source.set(context);
    await reach(transport, 'connected');
    const [first] = await displays(
      context,
      'import yolo_lab; m = yolo_lab.monitor(window_s=60, interval_s=0.2)'
    );
    const output = new TelemetryOutput({
      metrics: () => ['cpu'],
      check: async () => definitionCheck('telemetry_display'),
      telemetry
    });
    await output.renderModel(new MimeModel({ data: first.data }));
    const initial = output.model.buffer.entries.length;
    // No update_display_data comes for SNAPSHOT_PERIOD_S: growth is the stream's.
    await new Promise<void>(resolve => {
      const grown = (): void => {
        if (output.model.buffer.entries.length >= initial + 5) {
          output.model.changed.disconnect(grown);
          resolve();
        }
      };
      output.model.changed.connect(grown);
    });
    // The output listened passively: the sampler kept the monitor's interval.
    expect(telemetry.model.intervalS).toBe(0.2);

    const updates = await displays(context, 'm.stop()');
    const final = updates.find(
      u => u.transient?.display_id === first.transient?.display_id
    );
    expect(final?.data[TELEMETRY_MIME]).toBeDefined();
    await output.renderModel(new MimeModel({ data: final!.data }));
    expect(output.model.live).toBe(false);
    // The output let go of the stream, and nobody else listens: the kernel's
    // sampler stops.
    let running = 'True';
    while (running !== 'False') {
      const future = context.session!.kernel!.requestExecute({
        code: 'from yolo_lab.telemetry import get_sampler; print(get_sampler().running)'
      });
      future.onIOPub = msg => {
        if (msg.header.msg_type === 'stream') {
          running = String((msg.content as { text: string }).text).trim();
        }
      };
      await future.done;
    }
    output.dispose();
    telemetry.dispose();
    transport.dispose();
  });
});

describe('the autotune output', () => {
  const settings = (batch: number) => ({
    batch_size: batch,
    workers: 2,
    cache: null,
    amp: false
  });
  const data = {
    v: 1,
    kind: 'autotune',
    dir: '/r/autotune-1',
    device: 'cpu',
    imgsz: 64,
    budget_s: 60,
    defaults: settings(16),
    rows: [
      { probe: 1, settings: settings(16), imgs_per_s: 10, seconds: 9 },
      { probe: 2, settings: settings(32), imgs_per_s: 14, seconds: 11 },
      {
        probe: 3,
        settings: settings(64),
        imgs_per_s: null,
        error: 'out of memory',
        seconds: 3
      }
    ],
    probing: settings(8),
    seconds: 23,
    ended: 'running',
    winner: settings(32),
    form: { batch_size: 32, workers: 2, cache: null, amp: false },
    imgs_per_s: 14,
    defaults_imgs_per_s: 10,
    speedup: 1.4
  };

  async function render(
    value: unknown,
    applied: FormFix[]
  ): Promise<AutotuneView> {
    const view = new AutotuneView({
      check: async () => definitionCheck('autotune_display'),
      applyForm: form => applied.push(form)
    });
    await view.renderModel(
      new MimeModel({ data: { [AUTOTUNE_MIME]: value as any } })
    );
    return view;
  }

  it('fills in while probing, then offers the winner to the form', async () => {
    const applied: FormFix[] = [];
    let view = await render(data, applied);
    const rows = view.node.querySelectorAll('tbody tr');
    expect(rows.length).toBe(4);
    expect(rows[3].className).toBe('yl-Autotune-pending');
    expect(rows[3].textContent).toContain('probing');
    expect(rows[1].classList.contains('yl-mod-fastest')).toBe(true);
    expect(rows[0].classList.contains('yl-mod-defaults')).toBe(true);
    expect(rows[1].textContent).toContain('1.40×');
    expect(rows[2].textContent).toContain('out of memory');
    // No button while the search runs: the winner may still change.
    expect(view.node.querySelector('.yl-AutotuneApply')).toBeNull();
    expect(view.node.textContent).toContain('Fastest so far');
    view.dispose();
    view = await render(
      { ...data, probing: null, ended: 'converged' },
      applied
    );
    expect(view.node.querySelectorAll('tbody tr').length).toBe(3);
    const button =
      view.node.querySelector<HTMLButtonElement>('.yl-AutotuneApply')!;
    button.click();
    // On the CPU the search never compared AMP: the form keeps its choice.
    expect(applied).toEqual([{ batch_size: 32, workers: 2, cache: null }]);
    expect(view.node.textContent).toContain('1.40× the defaults');
    view.dispose();
    // On a GPU it compared AMP on and off: the winner's AMP goes in.
    view = await render(
      {
        ...data,
        device: 'cuda:0',
        space: { amp: [true, false] },
        probing: null,
        ended: 'converged'
      },
      applied
    );
    view.node.querySelector<HTMLButtonElement>('.yl-AutotuneApply')!.click();
    expect(applied[1]).toEqual(data.form);
    view.dispose();
  });

  it('says so when the data does not match the schema', async () => {
    const view = await render({ v: 1, kind: 'autotune' }, []);
    expect(view.node.textContent).toMatch(/does not match the protocol schema/);
    view.dispose();
  });
});

describe('TrainingController', () => {
  it('in a notebook: writes and runs the cell only when the form is valid', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const environment = new EnvironmentClient(transport);
    const runs = new RunsClient(transport);
    const cells = new RecordingCells();
    const opened: IRunDisplay[] = [];
    const controller = new TrainingController({
      transport,
      runs,
      notebooks: cells,
      environment: environment.model,
      openView: display => opened.push(display)
    });
    expect(controller.where).toBe('notebook');
    expect(controller.form.valid).toBe(true);
    controller.form.set('batchSize', 'abc');
    expect(cells.saved.pop()?.batchSize).toBe('abc');
    expect(controller.form.valid).toBe(false);
    await expect(controller.train()).rejects.toBeInstanceOf(FormInvalidError);
    await expect(controller.insertCell()).rejects.toThrow(/is not a number/);
    expect(cells.cells).toEqual([]);
    controller.form.set('batchSize', '8');
    await controller.train();
    await controller.insertCell();
    expect(cells.cells.map(c => c.run)).toEqual([true, false]);
    expect(cells.cells[0].code).toContain('batch_size=8,');
    // Another notebook's form is loaded, not saved back.
    const saves = cells.saved.length;
    cells.formChanged.emit({ ...DEFAULT_FORM, data: 'b.yaml' });
    expect(controller.form.form.data).toBe('b.yaml');
    expect(cells.saved.length).toBe(saves);
    // Stop: no run of this notebook is going.
    await expect(controller.stop()).rejects.toThrow(/No training/);
    // Without a notebook there is nowhere to train.
    cells.current = null;
    expect(controller.canTrain).toBe(false);
    await expect(controller.train()).rejects.toThrow(/Open a notebook/);
    controller.dispose();
    runs.dispose();
    environment.dispose();
    transport.dispose();
  });

  it('autotune: writes the form as an autotune cell and fills the form with the winner', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const environment = new EnvironmentClient(transport);
    const runs = new RunsClient(transport);
    const cells = new RecordingCells();
    const controller = new TrainingController({
      transport,
      runs,
      notebooks: cells,
      environment: environment.model,
      openView: () => undefined
    });
    controller.autotuneBudgetS = 45;
    controller.form.apply({ imgsz: '128', workers: '1', batch_size: '24' });
    const settings = { batch_size: 32, workers: 2, cache: 'ram', amp: false };
    const table = {
      v: 1,
      kind: 'autotune',
      dir: '/r/autotune-1',
      device: 'cpu',
      imgsz: 128,
      budget_s: 45,
      defaults: { batch_size: 16, workers: 1, cache: null, amp: false },
      rows: [],
      seconds: 40,
      ended: 'converged',
      winner: settings,
      form: { batch_size: 32, workers: 2, cache: 'ram', amp: false },
      speedup: 1.5
    };
    // Still running (an interrupted cell): the form is left alone.
    cells.outputs = [
      { 'text/plain': 'x' },
      { [AUTOTUNE_MIME]: { ...table, ended: 'running' } }
    ];
    let outcome = await controller.autotune();
    expect(outcome.applied).toBe(false);
    expect(controller.form.form.batchSize).toBe('24');
    const code = cells.cells[0].code;
    expect(code).toContain('tuned = autotune(');
    expect(code).toContain('imgsz=128,');
    expect(code).toContain('batch_size=24,');
    expect(code).toContain('workers=1,');
    expect(code).toContain('budget_s=45,');
    expect(code).toContain('device="cpu",');
    // Ended: the winner is in the form.
    cells.outputs = [{ [AUTOTUNE_MIME]: table }];
    outcome = await controller.autotune();
    expect(outcome.applied).toBe(true);
    expect(controller.form.form.batchSize).toBe('32');
    expect(controller.form.form.workers).toBe('2');
    expect(controller.form.form.cache).toBe('ram');
    // AMP was not compared on the CPU: the form's stays automatic.
    expect(controller.form.form.amp).toBeNull();
    // Another notebook became current meanwhile: its form is not changed.
    controller.form.apply({ batch_size: '8' });
    cells.whileRunning = () => {
      cells.current = new Widget();
    };
    outcome = await controller.autotune();
    expect(outcome.applied).toBe(false);
    expect(controller.form.form.batchSize).toBe('8');
    // An invalid form writes no cell.
    const written = cells.cells.length;
    controller.form.set('imgsz', 'big');
    await expect(controller.autotune()).rejects.toBeInstanceOf(
      FormInvalidError
    );
    expect(cells.cells.length).toBe(written);
    controller.dispose();
    runs.dispose();
    environment.dispose();
    transport.dispose();
  });

  it('on a server: runs the code in the server kernel and opens views', async () => {
    const source = new Source();
    const transport = new KernelTransport(source, '0.0.0-test');
    const environment = new EnvironmentClient(transport);
    const runs = new RunsClient(transport);
    const cells = new RecordingCells();
    const opened: IRunDisplay[] = [];
    const controller = new TrainingController({
      transport,
      runs,
      notebooks: cells,
      environment: environment.model,
      openView: display => opened.push(display)
    });
    let stale = 0;
    controller.runsStale.connect(() => stale++);
    await transport.connectServer(
      PageConfig.getBaseUrl(),
      PageConfig.getToken(),
      'ipython'
    );
    await reach(transport, 'connected');
    expect(controller.where).toBe('server');
    expect(stale).toBeGreaterThanOrEqual(2);
    // A cell would run in the notebook's kernel, not the server's.
    await expect(controller.insertCell()).rejects.toThrow(/Jupyter server/);
    // Train runs train(...) there: the kernel's own check refuses the
    // missing dataset, and the error comes back.
    controller.form.set('data', '/nonexistent/data.yaml');
    await expect(controller.train()).rejects.toThrow(/TrainError/);
    expect(cells.cells).toEqual([]);
    await controller.open('/somewhere/runs/train/exp3');
    expect(opened).toEqual([
      {
        v: 1,
        run: '/somewhere/runs/train/exp3',
        name: 'exp3',
        status: 'unknown'
      }
    ]);
    await transport.disconnectServer();
    expect(controller.where).toBe('notebook');
    controller.dispose();
    runs.dispose();
    environment.dispose();
    transport.dispose();
  });
});
