/**
 * The transport: the one connection between yolo-lab and a kernel.
 *
 * It follows the active notebook's kernel (or a kernel started on another
 * Jupyter server), imports `yolo_lab` there, opens the `yolo_lab` comm
 * (its traffic, checked against the protocol schema, is `channel.ts`'s),
 * delivers every message that answers no request as a signal, and says
 * where the connection stands. It knows no feature: the doctor, telemetry
 * and runs are its clients, each renewing what it needs when a connection
 * opens.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type {
  Kernel,
  KernelMessage,
  KernelManager
} from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { CommChannel, TransportError } from './channel';
import { COMM_TARGET, loadSchemaCheck, type Message } from './protocol';
import type {
  ConnectionPhase,
  IConnection,
  IKernelTarget,
  IKernelTransport,
  IRequestOptions,
  OutgoingMessage
} from './tokens';
import type { ISchemaCheck } from './validator';
import { bootstrap, type IKernelSource } from './kernelSource';
import { startRemoteKernel } from './remote';

export { notebookSource, type IKernelSource } from './kernelSource';

/** The fix for a version mismatch between the kernel and JupyterLab. */
export const INSTALL_UPGRADE = '%pip install --upgrade yolo-lab';

const INITIAL: IConnection = {
  phase: 'no-kernel',
  epoch: 0,
  kernel: null,
  kernelName: null,
  notebookPath: null,
  detail: null,
  fix: null
};

/**
 * Connects yolo-lab to the current notebook's kernel, or to a remote one.
 */
export class KernelTransport implements IKernelTransport, IDisposable {
  /**
   * @param source - what to follow in notebook mode (the notebook tracker)
   * @param version - yolo-lab version, sent in the frontend hello
   */
  constructor(source: IKernelSource, version: string) {
    this._source = source;
    this._version = version;
    source.currentChanged.connect(this._onCurrentChanged, this);
    this._follow(source.current);
  }

  /** Where the connection stands. */
  get connection(): IConnection {
    return this._connection;
  }

  /** Emits on every change of the connection. */
  get connectionChanged(): ISignal<this, IConnection> {
    return this._connectionChanged;
  }

  /** Every valid message that is not a reply to a request. */
  get received(): ISignal<this, Message> {
    return this._received;
  }

  /** Whether a comm to a yolo-lab kernel is open. */
  get connected(): boolean {
    return !!this._channel?.isOpen;
  }

  /** Where the kernel runs. */
  get target(): IKernelTarget {
    return this._remote
      ? { kind: 'server', url: this._remote.url }
      : { kind: 'notebook' };
  }

  /** Emits when the target changes. */
  get targetChanged(): ISignal<this, IKernelTarget> {
    return this._targetChanged;
  }

  /** Whether the transport is disposed. */
  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Send a message; false when no comm is open (clients renew on connect). */
  send(message: OutgoingMessage): boolean {
    return !!this._channel?.send(message);
  }

  /**
   * Send a request and resolve with the reply that carries its id. Rejects
   * with a {@link TransportError}: the kernel's error reply, no comm, the
   * kernel restarting or changing before it answered, or the timeout.
   */
  request<T extends Message = Message>(
    message: OutgoingMessage,
    options: IRequestOptions = {}
  ): Promise<T> {
    const channel = this._channel;
    if (!channel?.isOpen) {
      return Promise.reject(
        new TransportError(
          'No yolo-lab kernel: open a notebook whose kernel has yolo-lab installed.',
          'disconnected'
        )
      );
    }
    return channel.request<T>(message, options);
  }

  /** Connect again to the same kernel (after a fix, or a failure). */
  async reconnect(): Promise<void> {
    await this._connect();
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
    const {
      url: baseUrl,
      kernel,
      manager
    } = await startRemoteKernel(url, token, kernelName);
    this._remote = { url: baseUrl, kernel, manager };
    kernel.statusChanged.connect(this._onRemoteStatus, this);
    this._targetChanged.emit(this.target);
    await this._connect();
  }

  /** Go back to the notebook's kernel; the remote kernel is shut down. */
  async disconnectServer(reconnect = true): Promise<void> {
    const remote = this._remote;
    if (!remote) {
      return;
    }
    this._remote = null;
    this._closeComm('the kernel was disconnected');
    remote.kernel.statusChanged.disconnect(this._onRemoteStatus, this);
    try {
      await remote.kernel.shutdown();
    } catch {
      // Already gone with its server.
    }
    remote.manager.dispose();
    this._targetChanged.emit(this.target);
    if (reconnect) {
      await this._connect();
    }
  }

  /** Run code in the transport's kernel (the remote one in server mode). */
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

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._closeComm('yolo-lab was unloaded');
    this._source.currentChanged.disconnect(this._onCurrentChanged, this);
    this._follow(null);
    if (this._remote) {
      this._remote.kernel.statusChanged.disconnect(this._onRemoteStatus, this);
      this._remote.manager.dispose();
      this._remote = null;
    }
    Signal.clearData(this);
  }

  private _onCurrentChanged(): void {
    this._follow(this._source.current);
  }

  private _follow(context: ISessionContext | null): void {
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
    if (context) {
      context.kernelChanged.connect(this._onKernelChanged, this);
      context.statusChanged.connect(this._onStatusChanged, this);
      context.disposed.connect(this._onContextDisposed, this);
    }
    if (!this._isDisposed && !this._remote) {
      void this._connect();
    }
  }

  /** The kernel yolo-lab talks to: the remote one, else the notebook's. */
  private _kernel(): Kernel.IKernelConnection | null {
    if (this._remote) {
      return this._remote.kernel;
    }
    return this._context?.session?.kernel ?? null;
  }

  private _onContextDisposed(): void {
    this._follow(null);
  }

  private _onKernelChanged(): void {
    if (this._remote) {
      return;
    }
    this._restartPending = false;
    void this._connect();
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    if (!this._remote) {
      this._onStatus(status);
    }
  }

  private _onRemoteStatus(
    _: Kernel.IKernelConnection,
    status: Kernel.Status
  ): void {
    this._onStatus(status);
  }

  private _onStatus(status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      // The kernel's comms die with it.
      this._closeComm('the kernel restarted');
      this._restartPending = true;
      this._set({ phase: 'restarting' });
    } else if (status === 'idle' && this._restartPending) {
      this._restartPending = false;
      void this._connect();
    } else if (status === 'dead') {
      this._closeComm('the kernel died');
      this._set({
        phase: 'error',
        detail: 'The kernel died. Restart it from the Kernel menu.'
      });
    }
  }

  /** Attach to the current kernel: import yolo_lab, open the comm. */
  private async _connect(): Promise<void> {
    this._closeComm('the kernel changed');
    const remote = this._remote;
    const context = this._context;
    const notebookPath = remote ? null : (context?.path ?? null);
    const kernel = this._kernel();
    if (!kernel) {
      this._attach({ ...INITIAL, notebookPath });
      return;
    }
    const epoch = this._attach({
      phase: 'connecting',
      kernel: remote ? `${remote.url}#${kernel.id}` : kernel.id,
      kernelName: remote
        ? `${kernel.name} on ${remote.url}`
        : context?.kernelDisplayName || kernel.name,
      notebookPath,
      detail: null,
      fix: null
    });
    const stale = (): boolean =>
      this._isDisposed ||
      epoch !== this._connection.epoch ||
      kernel !== this._kernel();
    try {
      const info = await kernel.info;
      if (stale()) {
        return;
      }
      const language = info.language_info?.name ?? '';
      if (language.toLowerCase() !== 'python') {
        this._set({ phase: 'unsupported-kernel', detail: language });
        return;
      }
      const imported = await bootstrap(kernel);
      if (stale()) {
        return;
      }
      if (imported !== true) {
        this._set({ phase: 'missing-package', detail: imported });
        return;
      }
      this._schemaCheck ??= loadSchemaCheck();
      const schemaCheck = await this._schemaCheck;
      if (stale()) {
        return;
      }
      const channel = new CommChannel(kernel.createComm(COMM_TARGET), {
        schemaCheck,
        received: message => this._received.emit(message),
        mismatch: detail =>
          this._set({ phase: 'error', detail, fix: INSTALL_UPGRADE }),
        closed: () => {
          if (this._channel === channel) {
            this._channel = null;
          }
        }
      });
      this._channel = channel;
      await channel.open(this._version);
      if (stale() || this._channel !== channel) {
        return;
      }
      this._set({ phase: 'connected' });
    } catch (reason) {
      if (!stale()) {
        this._set({
          phase: 'error',
          detail: `Could not reach the kernel: ${reason}`
        });
      }
    }
  }

  /** A new attachment: a new epoch. */
  private _attach(connection: Omit<IConnection, 'epoch'>): number {
    const epoch = this._connection.epoch + 1;
    this._connection = { ...connection, epoch };
    this._connectionChanged.emit(this._connection);
    return epoch;
  }

  /** A new phase of the current attachment. */
  private _set(change: {
    phase: ConnectionPhase;
    detail?: string | null;
    fix?: string | null;
  }): void {
    this._connection = {
      ...this._connection,
      detail: null,
      fix: null,
      ...change
    };
    if (change.phase === 'restarting') {
      // What the kernel said before no longer holds: a new epoch.
      this._connection = {
        ...this._connection,
        epoch: this._connection.epoch + 1
      };
    }
    this._connectionChanged.emit(this._connection);
  }

  private _closeComm(reason: string): void {
    const channel = this._channel;
    this._channel = null;
    channel?.close(reason);
  }

  private _source: IKernelSource;
  private _version: string;
  private _context: ISessionContext | null = null;
  private _channel: CommChannel | null = null;
  private _schemaCheck: Promise<ISchemaCheck> | null = null;
  private _restartPending = false;
  private _remote: {
    url: string;
    kernel: Kernel.IKernelConnection;
    manager: KernelManager;
  } | null = null;
  private _connection: IConnection = INITIAL;
  private _connectionChanged = new Signal<this, IConnection>(this);
  private _received = new Signal<this, Message>(this);
  private _targetChanged = new Signal<this, IKernelTarget>(this);
  private _isDisposed = false;
}
