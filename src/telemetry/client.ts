/**
 * Telemetry as a client of the transport: the kernel samples only while
 * someone listens (the first listener subscribes, the last one to leave
 * unsubscribes), and a subscription is renewed on every new connection.
 */
import { UUID } from '@lumino/coreutils';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import type { Message } from '../protocol';
import type { IConnection, IKernelTransport } from '../tokens';
import { TelemetryModel } from './model';
import type { IListenOptions, ITelemetry } from './tokens';
import type { ITelemetryBatch } from './types';

/** Default sampling interval in the kernel, seconds (schema/bridge.json). */
export const DEFAULT_INTERVAL_S = 1;

/**
 * Feeds the telemetry model of the transport's kernel.
 */
export class TelemetryClient implements ITelemetry, IDisposable {
  constructor(transport: IKernelTransport) {
    this._transport = transport;
    this._kernel = transport.connection.kernel;
    transport.connectionChanged.connect(this._onConnection, this);
    transport.received.connect(this._onMessage, this);
  }

  /** Telemetry of the transport's kernel, fed while someone listens. */
  readonly model = new TelemetryModel();

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Every batch from the kernel's sampler, as it arrives. */
  get batchReceived(): ISignal<this, ITelemetryBatch> {
    return this._batchReceived;
  }

  /**
   * Listen to the kernel's telemetry until the handle is disposed. The first
   * listener subscribes; the first active one sets the sampling interval.
   */
  listen(options: IListenOptions = {}): IDisposable {
    const active = !options.passive;
    this._listeners++;
    if (active) {
      this._active++;
    }
    if (this._listeners === 1 || (active && this._active === 1)) {
      this._subscribe();
    }
    return new DisposableDelegate(() => {
      this._listeners--;
      if (active) {
        this._active--;
      }
      if (this._listeners === 0) {
        this._transport.send({ type: 'telemetry_unsubscribe', id: null });
      }
    });
  }

  /** Sampling interval in the kernel, seconds (0.1 to 10). */
  get intervalS(): number {
    return this._intervalS;
  }
  set intervalS(value: number) {
    if (value !== this._intervalS) {
      this._intervalS = value;
      if (this._active > 0) {
        this._subscribe();
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._transport.connectionChanged.disconnect(this._onConnection, this);
    this._transport.received.disconnect(this._onMessage, this);
    this.model.dispose();
    Signal.clearData(this);
  }

  private _onConnection(_: IKernelTransport, connection: IConnection): void {
    if (connection.kernel !== this._kernel) {
      // Another kernel may run on another machine: its telemetry starts
      // afresh. (A restart keeps the kernel and shows as a gap instead.)
      this._kernel = connection.kernel;
      this.model.clear();
    }
    if (connection.phase === 'connected' && this._listeners > 0) {
      this._subscribe();
    }
  }

  private _onMessage(_: IKernelTransport, message: Message): void {
    if (message.type === 'telemetry_batch') {
      this.model.addBatch(message);
      this._batchReceived.emit(message);
    } else if (message.type === 'telemetry_notice') {
      this.model.addNotice(message);
    }
  }

  private _subscribe(): void {
    // Without a comm this is a no-op: the next connection subscribes.
    // Passive listeners alone leave the sampler's interval as it is.
    this._transport.send({
      type: 'telemetry_subscribe',
      id: UUID.uuid4(),
      ...(this._active > 0 ? { interval_s: this._intervalS } : {})
    });
  }

  private _transport: IKernelTransport;
  private _kernel: string | null;
  private _listeners = 0;
  private _active = 0;
  private _batchReceived = new Signal<this, ITelemetryBatch>(this);
  private _intervalS = DEFAULT_INTERVAL_S;
  private _isDisposed = false;
}
