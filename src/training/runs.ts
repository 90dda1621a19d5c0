/**
 * Training runs as a client of the transport: live feeds of run folders for
 * the views that show them, stop requests and the runs list.
 */
import { UUID } from '@lumino/coreutils';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { Message } from '../protocol';
import type { IConnection, IKernelTransport } from '../tokens';
import { RunRegistry } from './registry';
import type { IRuns } from './tokens';
import type {
  IRunEventsMessage,
  IRunsListMessage,
  IRunStopResultMessage,
  IRunSummary,
  RunListener
} from './types';

/**
 * The runs followed through the transport's kernel.
 *
 * Subscriptions survive kernel changes and restarts: they are renewed on
 * each new connection, and the new kernel reads the history from disk again.
 */
export class RunsClient implements IRuns, IDisposable {
  constructor(transport: IKernelTransport) {
    this._transport = transport;
    transport.connectionChanged.connect(this._onConnection, this);
    transport.received.connect(this._onMessage, this);
  }

  /** Which runs the page's views show, and where. */
  readonly registry = new RunRegistry();

  /** Emits when a followed run starts or stops going. */
  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Listen to a run's events until the handle is disposed: first its history
   * from the run folder, then what is new.
   */
  listen(run: string, listener: RunListener): IDisposable {
    let listeners = this._listeners.get(run);
    if (!listeners) {
      listeners = new Set();
      this._listeners.set(run, listeners);
    }
    listeners.add(listener);
    // Also for a second view of the same run: the kernel answers every
    // subscribe with the history (and keeps one live feed per comm).
    this._subscribe(run);
    return new DisposableDelegate(() => {
      const set = this._listeners.get(run);
      set?.delete(listener);
      if (set && set.size === 0) {
        this._listeners.delete(run);
        this._forgetSubscriptions(run);
        this._setState(run, null);
        this._transport.send({ type: 'run_unsubscribe', run });
      }
    });
  }

  /** Ask a run to stop after its current batch (last.pt is saved). */
  stop(run: string): Promise<IRunStopResultMessage> {
    return this._transport.request<IRunStopResultMessage>({
      type: 'run_stop',
      run
    });
  }

  /** The runs of a project folder (default runs/train), newest first. */
  async list(project?: string): Promise<IRunSummary[]> {
    const reply = await this._transport.request<IRunsListMessage>(
      project ? { type: 'runs_request', project } : { type: 'runs_request' }
    );
    return reply.runs;
  }

  /** Runs shown somewhere (their views listen) that are still going. */
  active(): string[] {
    return [...this._states.entries()]
      .filter(
        ([, state]) =>
          state === 'pending' || state === 'starting' || state === 'running'
      )
      .map(([run]) => run);
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._transport.connectionChanged.disconnect(this._onConnection, this);
    this._transport.received.disconnect(this._onMessage, this);
    this._listeners.clear();
    Signal.clearData(this);
  }

  private _onConnection(_: IKernelTransport, connection: IConnection): void {
    if (connection.phase === 'connected') {
      this._subscribeIds.clear();
      for (const run of this._listeners.keys()) {
        this._subscribe(run);
      }
    }
  }

  private _subscribe(run: string): void {
    const id = UUID.uuid4();
    if (this._transport.send({ type: 'run_subscribe', id, run })) {
      this._subscribeIds.set(id, run);
    }
  }

  private _forgetSubscriptions(run: string): void {
    for (const [id, r] of [...this._subscribeIds]) {
      if (r === run) {
        this._subscribeIds.delete(id);
      }
    }
  }

  private _onMessage(_: IKernelTransport, message: Message): void {
    if (message.type === 'run_events') {
      if (message.history) {
        // The subscription is served: its id can no longer get an error.
        this._forgetSubscriptions(message.run);
      }
      this._setState(message.run, message.status.status ?? 'unknown');
      this._deliver(message.run, message);
    } else if (message.type === 'error' && message.id) {
      const run = this._subscribeIds.get(message.id);
      if (run !== undefined) {
        // The run cannot be shown (its folder is gone): tell its views.
        this._subscribeIds.delete(message.id);
        this._deliver(run, {
          v: 1,
          type: 'run_events',
          run,
          history: true,
          status: { status: 'unknown', message: message.message },
          events: []
        });
      }
    }
  }

  private _deliver(run: string, message: IRunEventsMessage): void {
    this._listeners.get(run)?.forEach(listener => {
      try {
        listener(message);
      } catch (reason) {
        console.error('yolo-lab: a run view failed', reason);
      }
    });
  }

  private _setState(run: string, state: string | null): void {
    const before = this.active().includes(run);
    if (state === null || !this._listeners.has(run)) {
      this._states.delete(run);
    } else {
      this._states.set(run, state);
    }
    if (before !== this.active().includes(run)) {
      this._activeChanged.emit();
    }
  }

  private _transport: IKernelTransport;
  private _listeners = new Map<string, Set<RunListener>>();
  private _subscribeIds = new Map<string, string>();
  private _states = new Map<string, string>();
  private _activeChanged = new Signal<this, void>(this);
  private _isDisposed = false;
}
