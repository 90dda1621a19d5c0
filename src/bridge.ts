/**
 * The kernel bridge: follows the active notebook's kernel, opens the
 * `yolo_lab` comm in it and feeds the environment model.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import {
  KernelManager,
  ServerConnection,
  type Kernel,
  type KernelMessage
} from '@jupyterlab/services';
import { PromiseDelegate, UUID } from '@lumino/coreutils';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { EnvironmentModel } from './model';
import {
  COMM_TARGET,
  ISchemaCheck,
  loadSchemaCheck,
  Message,
  parseMessage,
  PROTOCOL_VERSION
} from './protocol';
import { TelemetryModel } from './telemetry/model';
import type { IKernelBridge, IKernelTarget } from './tokens';
import type {
  IRunStopResultMessage,
  IRunSummary,
  RunListener
} from './training/types';

/** User settings that change what the bridge does. */
export interface IBridgeSettings {
  /** Run the doctor each time a kernel is attached or restarted. */
  checkOnConnect: boolean;
  /** DataLoader workers the user plans to use (decides the /dev/shm rule). */
  workers: number;
  /** Telemetry sampling interval in the kernel, seconds (0.1 to 10). */
  telemetryIntervalS: number;
}

/** Default settings, the same as schema/bridge.json. */
export const DEFAULT_BRIDGE_SETTINGS: IBridgeSettings = {
  checkOnConnect: true,
  workers: 8,
  telemetryIntervalS: 1
};

// The only code the bridge runs in a kernel: importing the package registers
// its comm target. Everything else travels over the comm.
const BOOTSTRAP = 'import yolo_lab';

/**
 * Connects yolo-lab to the kernel of the current notebook.
 */
export class KernelBridge implements IKernelBridge, IDisposable {
  /**
   * @param tracker - notebook tracker whose current notebook is followed
   * @param version - yolo-lab version, sent in the frontend hello
   */
  constructor(tracker: INotebookTracker, version: string) {
    this._version = version;
    this._tracker = tracker;
    tracker.currentChanged.connect(this._onCurrentChanged, this);
    this._follow(tracker.currentWidget);
  }

  /** The environment model fed by this bridge. */
  readonly model = new EnvironmentModel();

  /** Telemetry of the attached kernel, fed while someone listens. */
  readonly telemetry = new TelemetryModel();

  /**
   * Listen to the kernel's telemetry until the returned handle is disposed.
   *
   * The kernel samples only while someone listens: the first listener
   * subscribes, the last one to leave unsubscribes.
   */
  listenTelemetry(): IDisposable {
    this._telemetryListeners++;
    if (this._telemetryListeners === 1) {
      this._subscribeTelemetry();
    }
    return new DisposableDelegate(() => {
      this._telemetryListeners--;
      if (
        this._telemetryListeners === 0 &&
        this._comm &&
        !this._comm.isDisposed
      ) {
        this._comm.send({
          v: PROTOCOL_VERSION,
          type: 'telemetry_unsubscribe',
          id: null
        });
      }
    });
  }

  /**
   * Listen to a run's events until the handle is disposed: first its history
   * from the run folder, then what is new. Subscriptions survive kernel
   * changes and restarts: they are renewed on each new connection, and the
   * new kernel reads the history from disk again.
   */
  listenRun(run: string, listener: RunListener): IDisposable {
    let listeners = this._runListeners.get(run);
    if (!listeners) {
      listeners = new Set();
      this._runListeners.set(run, listeners);
    }
    listeners.add(listener);
    // Also for a second view of the same run: the kernel answers every
    // subscribe with the history (and keeps one live feed per comm).
    this._sendRun('run_subscribe', run);
    return new DisposableDelegate(() => {
      const set = this._runListeners.get(run);
      set?.delete(listener);
      if (set && set.size === 0) {
        this._runListeners.delete(run);
        this._sendRun('run_unsubscribe', run);
      }
    });
  }

  /** Ask a run to stop after its current batch. */
  async stopRun(run: string): Promise<IRunStopResultMessage> {
    const reply = await this._request<IRunStopResultMessage>({
      type: 'run_stop',
      run
    });
    return reply;
  }

  /** The runs of a project folder (default runs/train), newest first. */
  async listRuns(project?: string): Promise<IRunSummary[]> {
    const reply = await this._request<{ runs: IRunSummary[] }>(
      project ? { type: 'runs_request', project } : { type: 'runs_request' }
    );
    return reply.runs;
  }

  /** Runs shown somewhere (their views listen) that are still going. */
  activeRuns(): string[] {
    return [...this._runListeners.keys()].filter(run => {
      const state = this._runStates.get(run);
      return state === 'starting' || state === 'running';
    });
  }

  /** Whether a comm to a yolo-lab kernel is open. */
  get connected(): boolean {
    return !!this._comm && !this._comm.isDisposed;
  }

  private _sendRun(type: 'run_subscribe' | 'run_unsubscribe', run: string) {
    const comm = this._comm;
    if (!comm || comm.isDisposed) {
      return; // renewed when connected
    }
    if (type === 'run_subscribe') {
      const id = UUID.uuid4();
      this._subscribeIds.set(id, run);
      comm.send({ v: PROTOCOL_VERSION, type, id, run });
    } else {
      comm.send({ v: PROTOCOL_VERSION, type, run });
    }
  }

  private _request<T>(body: Record<string, unknown>): Promise<T> {
    const comm = this._comm;
    if (!comm || comm.isDisposed) {
      return Promise.reject(
        new Error(
          'No yolo-lab kernel: open a notebook whose kernel has yolo-lab installed.'
        )
      );
    }
    const id = UUID.uuid4();
    const reply = new PromiseDelegate<T>();
    this._replies.set(id, reply as PromiseDelegate<unknown>);
    comm.send({ v: PROTOCOL_VERSION, id, ...body } as any);
    const timeout = setTimeout(
      () => reply.reject(new Error('the kernel did not answer in 60 s')),
      60000
    );
    return reply.promise.finally(() => {
      clearTimeout(timeout);
      this._replies.delete(id);
    });
  }

  /** Whether the bridge is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The comm currently open, if any (exposed for tests and later features). */
  get comm(): Kernel.IComm | null {
    return this._comm;
  }

  /** Update settings; a change of workers re-runs the check. */
  configure(settings: IBridgeSettings): void {
    const rerun =
      settings.workers !== this._settings.workers && this.model.state.report;
    const resample =
      settings.telemetryIntervalS !== this._settings.telemetryIntervalS;
    this._settings = { ...settings };
    if (rerun) {
      void this.checkEnvironment();
    }
    if (resample && this._telemetryListeners > 0) {
      this._subscribeTelemetry();
    }
  }

  async checkEnvironment(): Promise<void> {
    if (!this._comm || this._comm.isDisposed) {
      // Not connected (missing package fixed since, a failure, a new kernel):
      // connecting again runs the check as its last step.
      await this._connect(true);
      return;
    }
    await this._requestReport(this.model.epoch, this._comm);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._closeComm();
    this._rejectPending('yolo-lab was unloaded');
    this._tracker.currentChanged.disconnect(this._onCurrentChanged, this);
    this._follow(null);
    this.model.dispose();
    this.telemetry.dispose();
    Signal.clearData(this);
  }

  private _onCurrentChanged(
    _: INotebookTracker,
    panel: NotebookPanel | null
  ): void {
    this._follow(panel);
  }

  private _follow(panel: NotebookPanel | null): void {
    const context = panel?.sessionContext ?? null;
    if (context === this._context) {
      return;
    }
    if (this._context) {
      this._context.kernelChanged.disconnect(this._onKernelChanged, this);
      this._context.statusChanged.disconnect(this._onStatusChanged, this);
      this._context.disposed.disconnect(this._onContextDisposed, this);
    }
    this._context = context;
    this._restartPending = false;
    this.telemetry.clear();
    if (context) {
      context.kernelChanged.connect(this._onKernelChanged, this);
      context.statusChanged.connect(this._onStatusChanged, this);
      context.disposed.connect(this._onContextDisposed, this);
    }
    if (!this._isDisposed && !this._remote) {
      void this._connect(this._settings.checkOnConnect);
    }
  }

  /** The kernel yolo-lab talks to: the remote one, else the notebook's. */
  private _kernel(): Kernel.IKernelConnection | null {
    if (this._remote) {
      return this._remote.kernel;
    }
    return this._context?.session?.kernel ?? null;
  }

  /** Where the bridge's kernel runs. */
  get target(): IKernelTarget {
    return this._remote
      ? { kind: 'server', url: this._remote.url }
      : { kind: 'notebook' };
  }

  /** Emits when the target changes. */
  get targetChanged(): ISignal<this, IKernelTarget> {
    return this._targetChanged;
  }

  /**
   * Talk to a kernel on another Jupyter server (one in a container, say)
   * instead of the notebook's: a new kernel is started there through the
   * server's REST and websocket API with its token. The server must accept
   * this page's origin (`--ServerApp.allow_origin`; `yolo-lab up
   * --server-only` sets it).
   */
  async connectServer(
    url: string,
    token: string,
    kernelName = 'python3'
  ): Promise<void> {
    await this.disconnectServer(false);
    let baseUrl: string;
    try {
      const parsed = new URL(url);
      token = token || parsed.searchParams.get('token') || '';
      parsed.search = '';
      parsed.hash = '';
      baseUrl = parsed.toString().replace(/\/(lab|tree)\/?$/, '/');
    } catch {
      throw new Error(
        `"${url}" is not a URL: give the server's address, e.g. http://127.0.0.1:8890/`
      );
    }
    const serverSettings = ServerConnection.makeSettings({
      baseUrl,
      wsUrl: baseUrl.replace(/^http/, 'ws'),
      token,
      appendToken: true
    });
    const manager = new KernelManager({ serverSettings });
    let kernel: Kernel.IKernelConnection;
    try {
      await manager.ready;
      kernel = await manager.startNew({ name: kernelName });
    } catch (reason) {
      manager.dispose();
      throw new Error(
        `Could not start a kernel on ${baseUrl}: ${reason}. Check the URL and ` +
          'the token, and that the server allows this page (yolo-lab up ' +
          '--server-only, or --ServerApp.allow_origin).'
      );
    }
    this._remote = { url: baseUrl, kernel, manager };
    kernel.statusChanged.connect(this._onRemoteStatus, this);
    this.telemetry.clear();
    this._targetChanged.emit(this.target);
    await this._connect(this._settings.checkOnConnect);
  }

  /** Go back to the notebook's kernel; the remote kernel is shut down. */
  async disconnectServer(reconnect = true): Promise<void> {
    const remote = this._remote;
    if (!remote) {
      return;
    }
    this._remote = null;
    this._closeComm();
    remote.kernel.statusChanged.disconnect(this._onRemoteStatus, this);
    try {
      await remote.kernel.shutdown();
    } catch {
      // Already gone with its server.
    }
    remote.manager.dispose();
    this.telemetry.clear();
    this._targetChanged.emit(this.target);
    if (reconnect) {
      await this._connect(this._settings.checkOnConnect);
    }
  }

  /** Run code in the bridge's kernel (the remote one in server mode). */
  execute(
    code: string
  ): Kernel.IShellFuture<
    KernelMessage.IExecuteRequestMsg,
    KernelMessage.IExecuteReplyMsg
  > {
    const kernel = this._kernel();
    if (!kernel) {
      throw new Error('No kernel to run the code in.');
    }
    return kernel.requestExecute({ code, stop_on_error: true });
  }

  private _onRemoteStatus(
    _: Kernel.IKernelConnection,
    status: Kernel.Status
  ): void {
    this._onStatus(status);
  }

  private _onContextDisposed(): void {
    this._follow(null);
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: {
      oldValue: Kernel.IKernelConnection | null;
      newValue: Kernel.IKernelConnection | null;
    }
  ): void {
    if (this._remote) {
      return;
    }
    this._restartPending = false;
    if (change.oldValue !== change.newValue) {
      // Another kernel may run on another machine: its telemetry starts afresh.
      // (A restart keeps the same connection and shows a gap instead.)
      this.telemetry.clear();
    }
    void this._connect(this._settings.checkOnConnect);
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    if (!this._remote) {
      this._onStatus(status);
    }
  }

  private _onStatus(status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      // The kernel's comms die with it; the report described a process
      // that no longer exists.
      this._closeComm();
      this._rejectPending('the kernel restarted');
      this._restartPending = true;
      this.model.restarting();
    } else if (status === 'idle' && this._restartPending) {
      this._restartPending = false;
      void this._connect(this._settings.checkOnConnect);
    } else if (status === 'dead') {
      this._closeComm();
      this.model.failed(
        this.model.epoch,
        'The kernel died. Restart it from the Kernel menu.'
      );
    }
  }

  /**
   * Attach to the current kernel: import yolo_lab, open the comm and,
   * when asked, run the doctor.
   */
  private async _connect(check: boolean): Promise<void> {
    this._closeComm();
    const remote = this._remote;
    const context = this._context;
    const path = remote ? null : (context?.path ?? null);
    const kernel = this._kernel();
    if (!kernel) {
      this.model.detach(path);
      return;
    }
    const epoch = this.model.attach(
      remote
        ? `${kernel.name} on ${remote.url}`
        : context?.kernelDisplayName || kernel.name,
      path
    );
    const stale = (): boolean =>
      this._isDisposed ||
      epoch !== this.model.epoch ||
      kernel !== this._kernel();
    try {
      const info = await kernel.info;
      if (stale()) {
        return;
      }
      const language = info.language_info?.name ?? '';
      if (language.toLowerCase() !== 'python') {
        this.model.unsupportedKernel(epoch, language);
        return;
      }
      const imported = await this._bootstrap(kernel);
      if (stale()) {
        return;
      }
      if (imported !== true) {
        this.model.missingPackage(epoch, imported);
        return;
      }
      const schemaCheck = await this._loadSchemaCheck();
      if (stale()) {
        return;
      }
      const comm = kernel.createComm(COMM_TARGET);
      this._comm = comm;
      this._warned = false;
      comm.onMsg = msg => this._onCommMsg(epoch, comm, schemaCheck, msg);
      comm.onClose = () => {
        if (this._comm === comm) {
          this._comm = null;
          this._rejectPending('the kernel closed the yolo_lab comm');
        }
      };
      await comm.open({
        v: PROTOCOL_VERSION,
        type: 'hello',
        side: 'frontend',
        version: this._version
      }).done;
      if (stale() || this._comm !== comm) {
        return;
      }
      if (this._telemetryListeners > 0) {
        this._subscribeTelemetry();
      }
      for (const run of this._runListeners.keys()) {
        this._sendRun('run_subscribe', run);
      }
      if (check) {
        await this._requestReport(epoch, comm);
      } else {
        this.model.connected(epoch);
      }
    } catch (reason) {
      if (!stale()) {
        this.model.failed(epoch, `Could not reach the kernel: ${reason}`);
      }
    }
  }

  /** Import yolo_lab in the kernel; true, or the error the kernel gave. */
  private async _bootstrap(
    kernel: Kernel.IKernelConnection
  ): Promise<true | string> {
    const future = kernel.requestExecute(
      {
        code: BOOTSTRAP,
        silent: true,
        store_history: false,
        stop_on_error: false
      },
      true
    );
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    const content = reply.content;
    if (content.status === 'ok') {
      return true;
    }
    if (content.status === 'error') {
      return `${content.ename}: ${content.evalue}`;
    }
    return `execution ${content.status}`;
  }

  private _loadSchemaCheck(): Promise<ISchemaCheck> {
    if (!this._schemaCheck) {
      this._schemaCheck = loadSchemaCheck();
    }
    return this._schemaCheck;
  }

  private async _requestReport(
    epoch: number,
    comm: Kernel.IComm
  ): Promise<void> {
    const id = UUID.uuid4();
    const done = new PromiseDelegate<void>();
    this._pending.set(id, done);
    this.model.checking(epoch);
    comm.send({
      v: PROTOCOL_VERSION,
      type: 'doctor_request',
      id,
      workers: this._settings.workers
    });
    try {
      await done.promise;
    } catch {
      // The model already says why (restart, closed comm); the caller of
      // checkEnvironment needs no exception for it.
    } finally {
      this._pending.delete(id);
    }
  }

  private _onCommMsg(
    epoch: number,
    comm: Kernel.IComm,
    schemaCheck: ISchemaCheck,
    msg: KernelMessage.ICommMsgMsg
  ): void {
    if (comm !== this._comm) {
      return;
    }
    const parsed = parseMessage(msg.content.data, schemaCheck);
    if (!parsed.ok) {
      if (!this._warned) {
        // One warning per connection: a chatty, mismatched kernel must not
        // flood the console.
        this._warned = true;
        console.warn(
          `yolo-lab: dropped a message from the kernel: ${parsed.reason}`
        );
      }
      if (parsed.code === 'unsupported_version') {
        this.model.failed(epoch, parsed.reason, INSTALL_UPGRADE);
      }
      return;
    }
    this._dispatch(epoch, parsed.message);
  }

  private _dispatch(epoch: number, message: Message): void {
    switch (message.type) {
      case 'doctor_report': {
        this.model.reported(epoch, message.report);
        this._settle(message.id);
        break;
      }
      case 'run_events': {
        this._runStates.set(message.run, message.status.status ?? 'unknown');
        this._runListeners.get(message.run)?.forEach(listener => {
          try {
            listener(message);
          } catch (reason) {
            console.error('yolo-lab: a run view failed', reason);
          }
        });
        break;
      }
      case 'runs_list':
      case 'run_stop_result': {
        this._replies.get(message.id)?.resolve(message);
        break;
      }
      case 'error': {
        const reply = message.id ? this._replies.get(message.id) : undefined;
        if (reply) {
          reply.reject(new Error(message.message));
          break;
        }
        const run = message.id ? this._subscribeIds.get(message.id) : undefined;
        if (run !== undefined) {
          // The run cannot be shown (its folder is gone): tell its views.
          this._runListeners.get(run)?.forEach(listener =>
            listener({
              v: 1,
              type: 'run_events',
              run,
              history: true,
              status: { status: 'unknown', message: message.message },
              events: []
            })
          );
          break;
        }
        this.model.failed(
          epoch,
          `The kernel reported an error (${message.code}): ${message.message}`,
          message.code === 'unsupported_version' ? INSTALL_UPGRADE : null
        );
        this._settle(message.id ?? null);
        break;
      }
      case 'telemetry_batch':
        this.telemetry.addBatch(message);
        break;
      case 'telemetry_notice':
        this.telemetry.addNotice(message);
        break;
      default:
        // hello, and requests that only the kernel answers.
        break;
    }
  }

  private _settle(id: string | null): void {
    if (id !== null) {
      this._pending.get(id)?.resolve();
    } else {
      this._pending.forEach(p => p.resolve());
    }
  }

  private _rejectPending(reason: string): void {
    this._pending.forEach(p => p.reject(new Error(reason)));
    this._pending.clear();
  }

  private _subscribeTelemetry(): void {
    const comm = this._comm;
    if (!comm || comm.isDisposed) {
      // Subscribed as the last step of connecting.
      return;
    }
    comm.send({
      v: PROTOCOL_VERSION,
      type: 'telemetry_subscribe',
      id: UUID.uuid4(),
      interval_s: this._settings.telemetryIntervalS
    });
  }

  private _closeComm(): void {
    const comm = this._comm;
    this._comm = null;
    if (comm && !comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel may already be gone; there is nothing left to close.
      }
    }
  }

  private _tracker: INotebookTracker;
  private _version: string;
  private _context: ISessionContext | null = null;
  private _comm: Kernel.IComm | null = null;
  private _schemaCheck: Promise<ISchemaCheck> | null = null;
  private _pending = new Map<string, PromiseDelegate<void>>();
  private _settings: IBridgeSettings = { ...DEFAULT_BRIDGE_SETTINGS };
  private _restartPending = false;
  private _telemetryListeners = 0;
  private _runListeners = new Map<string, Set<RunListener>>();
  private _subscribeIds = new Map<string, string>();
  private _runStates = new Map<string, string>();
  private _remote: {
    url: string;
    kernel: Kernel.IKernelConnection;
    manager: KernelManager;
  } | null = null;
  private _targetChanged = new Signal<this, IKernelTarget>(this);
  private _replies = new Map<string, PromiseDelegate<unknown>>();
  private _warned = false;
  private _isDisposed = false;
}

/** The fix for a version mismatch between the kernel and JupyterLab. */
const INSTALL_UPGRADE = '%pip install --upgrade yolo-lab';
