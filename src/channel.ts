/**
 * The traffic on one open `yolo_lab` comm: messages out with the protocol
 * version, requests resolved by the reply that carries their id (or a
 * timeout), every incoming message checked against the protocol schema.
 *
 * The transport owns the connection's life (which kernel, which phase); a
 * channel lives as long as one comm, and a new connection gets a new one.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { PromiseDelegate, UUID } from '@lumino/coreutils';
import { parseMessage, PROTOCOL_VERSION, type Message } from './protocol';
import type { IRequestOptions, OutgoingMessage } from './tokens';
import type { ISchemaCheck } from './validator';

/** A request that failed: the kernel's error code, or why it got no answer. */
export class TransportError extends Error {
  constructor(
    message: string,
    readonly code: string
  ) {
    super(message);
  }
}

const DEFAULT_TIMEOUT_MS = 60000;

/** What a channel hands back to its transport. */
export interface ICommChannelOptions {
  /** Checks every incoming message. */
  schemaCheck: ISchemaCheck;
  /** A valid message that answers no request. */
  received: (message: Message) => void;
  /** The kernel speaks another protocol version: what it said. */
  mismatch: (detail: string) => void;
  /** The kernel closed the comm (its pending requests are rejected). */
  closed: () => void;
}

/**
 * One open comm: sends, requests by id, and checks what comes back.
 */
export class CommChannel {
  constructor(comm: Kernel.IComm, options: ICommChannelOptions) {
    this._comm = comm;
    this._options = options;
    comm.onMsg = msg => this._onMsg(msg);
    comm.onClose = () => {
      if (!this._closed) {
        this._closed = true;
        this._rejectPending('the kernel closed the yolo_lab comm');
        this._options.closed();
      }
    };
  }

  /** Whether the comm is still open (neither side closed it). */
  get isOpen(): boolean {
    return !this._closed && !this._comm.isDisposed;
  }

  /** Open the comm with the frontend's hello; resolves once it is sent. */
  async open(version: string): Promise<void> {
    await this._comm.open({
      v: PROTOCOL_VERSION,
      type: 'hello',
      side: 'frontend',
      version
    }).done;
  }

  /** Send a message; false when the comm is closed. */
  send(message: OutgoingMessage): boolean {
    if (!this.isOpen) {
      return false;
    }
    this._comm.send({ v: PROTOCOL_VERSION, ...message } as any);
    return true;
  }

  /**
   * Send a request and resolve with the reply that carries its id. Rejects
   * with a {@link TransportError}: the kernel's error reply, the comm closed
   * before it answered, or the timeout.
   */
  request<T extends Message = Message>(
    message: OutgoingMessage,
    options: IRequestOptions = {}
  ): Promise<T> {
    const id = UUID.uuid4();
    const reply = new PromiseDelegate<Message>();
    this._pending.set(id, reply);
    this._comm.send({ v: PROTOCOL_VERSION, ...message, id } as any);
    const timeoutMs =
      options.timeoutMs === undefined ? DEFAULT_TIMEOUT_MS : options.timeoutMs;
    const timer =
      timeoutMs === null
        ? null
        : setTimeout(
            () =>
              reply.reject(
                new TransportError(
                  `the kernel did not answer in ${Math.round(timeoutMs / 1000)} s`,
                  'timeout'
                )
              ),
            timeoutMs
          );
    return reply.promise.finally(() => {
      if (timer !== null) {
        clearTimeout(timer);
      }
      this._pending.delete(id);
    }) as Promise<T>;
  }

  /** Close the comm: pending requests fail with `reason`. */
  close(reason: string): void {
    this._closed = true;
    this._rejectPending(reason);
    const comm = this._comm;
    if (!comm.isDisposed) {
      try {
        comm.close();
      } catch {
        // The kernel may already be gone; there is nothing left to close.
      }
    }
  }

  private _onMsg(msg: KernelMessage.ICommMsgMsg): void {
    if (this._closed) {
      return;
    }
    const parsed = parseMessage(msg.content.data, this._options.schemaCheck);
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
        this._options.mismatch(parsed.reason);
      }
      return;
    }
    const message = parsed.message;
    const id = (message as { id?: string | null }).id;
    const pending = id ? this._pending.get(id) : undefined;
    if (pending) {
      if (message.type === 'error') {
        pending.reject(new TransportError(message.message, message.code));
      } else {
        pending.resolve(message);
      }
      return;
    }
    if (message.type === 'error' && message.code === 'unsupported_version') {
      this._options.mismatch(
        `The kernel reported an error (${message.code}): ${message.message}`
      );
      return;
    }
    this._options.received(message);
  }

  private _rejectPending(reason: string): void {
    const error = new TransportError(reason, 'disconnected');
    this._pending.forEach(p => p.reject(error));
    this._pending.clear();
  }

  private _comm: Kernel.IComm;
  private _options: ICommChannelOptions;
  private _pending = new Map<string, PromiseDelegate<Message>>();
  private _closed = false;
  private _warned = false;
}
