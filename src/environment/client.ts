/**
 * The environment doctor as a client of the transport: it mirrors the
 * connection into the environment model and asks the kernel for a report
 * (on connect when the settings say so, and on request).
 */
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import type { IDoctorReportMessage, Message } from '../protocol';
import type { IConnection, IKernelTransport } from '../tokens';
import { TransportError } from '../channel';
import { EnvironmentModel } from './model';
import type { IEnvironment } from './tokens';

/** Settings of the doctor (schema/bridge.json). */
export interface IEnvironmentSettings {
  /** Run the doctor each time a kernel is attached or restarted. */
  checkOnConnect: boolean;
  /** DataLoader workers the user plans to use (decides the /dev/shm rule). */
  workers: number;
}

/** The defaults of schema/bridge.json. */
export const DEFAULT_ENVIRONMENT_SETTINGS: IEnvironmentSettings = {
  checkOnConnect: true,
  workers: 8
};

/**
 * Feeds the environment model from the transport.
 */
export class EnvironmentClient implements IEnvironment, IDisposable {
  constructor(transport: IKernelTransport) {
    this._transport = transport;
    transport.connectionChanged.connect(this._onConnection, this);
    transport.received.connect(this._onMessage, this);
    this._onConnection(transport, transport.connection);
  }

  /** The connection phase, the kernel and its last report. */
  readonly model = new EnvironmentModel();

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Update settings; a change of workers re-runs the check. */
  configure(settings: IEnvironmentSettings): void {
    const rerun =
      settings.workers !== this._settings.workers && this.model.state.report;
    this._settings = { ...settings };
    if (rerun) {
      void this.check();
    }
  }

  /**
   * Run the doctor in the kernel. Resolves when the report (or a reason why
   * there is none) is in the model. Not connected (the package installed
   * since, a failure): connect again, and check as soon as the comm is open.
   */
  async check(): Promise<void> {
    if (!this._transport.connected) {
      this._checkOnNextConnect = true;
      await this._transport.reconnect();
      await this._inFlight;
      return;
    }
    await this._request();
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
    const model = this.model;
    switch (connection.phase) {
      case 'no-kernel':
        model.detach(connection.notebookPath);
        break;
      case 'connecting':
        model.attach(connection.kernelName ?? '', connection.notebookPath);
        break;
      case 'restarting':
        model.restarting();
        break;
      case 'unsupported-kernel':
        model.unsupportedKernel(model.epoch, connection.detail ?? '');
        break;
      case 'missing-package':
        model.missingPackage(model.epoch, connection.detail ?? '');
        break;
      case 'error':
        model.failed(model.epoch, connection.detail ?? '', connection.fix);
        break;
      case 'connected':
        if (this._settings.checkOnConnect || this._checkOnNextConnect) {
          this._checkOnNextConnect = false;
          void this._request();
        } else {
          model.connected(model.epoch);
        }
        break;
    }
  }

  private _request(): Promise<void> {
    const model = this.model;
    const epoch = model.epoch;
    model.checking(epoch);
    const done = this._transport
      .request<IDoctorReportMessage>(
        { type: 'doctor_request', workers: this._settings.workers },
        // The doctor imports torch and asks every GPU: it may take a while.
        { timeoutMs: null }
      )
      .then(
        reply => model.reported(epoch, reply.report),
        (reason: unknown) => {
          // A restart or a closed comm: the model already says why.
          if (
            reason instanceof TransportError &&
            reason.code !== 'disconnected'
          ) {
            model.failed(
              epoch,
              `The kernel reported an error (${reason.code}): ${reason.message}`
            );
          }
        }
      );
    this._inFlight = done;
    return done;
  }

  private _onMessage(_: IKernelTransport, message: Message): void {
    // An error that answers no request: the kernel could not serve us.
    if (message.type === 'error' && !message.id) {
      this.model.failed(
        this.model.epoch,
        `The kernel reported an error (${message.code}): ${message.message}`
      );
    }
  }

  private _transport: IKernelTransport;
  private _settings: IEnvironmentSettings = { ...DEFAULT_ENVIRONMENT_SETTINGS };
  private _checkOnNextConnect = false;
  private _inFlight: Promise<void> = Promise.resolve();
  private _isDisposed = false;
}
