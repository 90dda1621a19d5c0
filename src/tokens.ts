/**
 * The core token: the transport every yolo-lab feature talks through.
 *
 * Feature tokens (environment, telemetry, runs, training) live in their own
 * folders; this file knows none of them.
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { Message } from './protocol';

/** Where the transport's kernel runs. */
export type IKernelTarget =
  { kind: 'notebook' } | { kind: 'server'; url: string };

/** Where a connection stands. */
export type ConnectionPhase =
  /** No notebook, or a notebook without a kernel. */
  | 'no-kernel'
  /** Waiting for the kernel, importing yolo_lab, opening the comm. */
  | 'connecting'
  /** The comm is open. */
  | 'connected'
  /** The kernel is restarting; what it said before no longer holds. */
  | 'restarting'
  /** The kernel cannot import yolo_lab (`detail`: its error). */
  | 'missing-package'
  /** Not a Python kernel (`detail`: its language). */
  | 'unsupported-kernel'
  /** Something failed (`detail`: what; `fix`: the command, if any). */
  | 'error';

/** A snapshot of the connection. */
export interface IConnection {
  readonly phase: ConnectionPhase;
  /**
   * Grows with each attachment and each restart: state a client keeps from
   * an older epoch describes a kernel process that is gone.
   */
  readonly epoch: number;
  /** The kernel's identity (its id, with the server for a remote one). */
  readonly kernel: string | null;
  /** Display name of the kernel. */
  readonly kernelName: string | null;
  /** Path of the notebook whose kernel is followed, if any. */
  readonly notebookPath: string | null;
  readonly detail: string | null;
  readonly fix: string | null;
}

/** A message the browser sends, without `v` and `id` (the transport adds them). */
export interface OutgoingMessage {
  type: string;
  [key: string]: unknown;
}

/** Options of a request. */
export interface IRequestOptions {
  /** Give up after this long (default 60 s); null waits as long as it takes. */
  timeoutMs?: number | null;
}

/**
 * The connection between yolo-lab and one kernel: the active notebook's, or
 * a kernel on another Jupyter server. Provided by `yolo-lab:bridge`.
 */
export interface IKernelTransport {
  /** Where the connection stands. */
  readonly connection: IConnection;
  /** Emits on every change of the connection. */
  readonly connectionChanged: ISignal<IKernelTransport, IConnection>;
  /** Whether a comm to a yolo-lab kernel is open. */
  readonly connected: boolean;
  /** Every valid incoming message that is not a reply to a request. */
  readonly received: ISignal<IKernelTransport, Message>;

  /** Send a message; false when no comm is open (clients renew on connect). */
  send(message: OutgoingMessage): boolean;
  /** Send a request; resolves with the reply carrying its id. */
  request<T extends Message = Message>(
    message: OutgoingMessage,
    options?: IRequestOptions
  ): Promise<T>;
  /** Connect again to the same kernel (after a fix, or a failure). */
  reconnect(): Promise<void>;

  /** The notebook's kernel, or a kernel on another Jupyter server. */
  readonly target: IKernelTarget;
  /** Emits when the target changes. */
  readonly targetChanged: ISignal<IKernelTransport, IKernelTarget>;
  /** Start a kernel on a Jupyter server (URL and token) and use it. */
  connectServer(url: string, token: string, kernelName?: string): Promise<void>;
  /** Back to the notebook's kernel (the server's kernel is shut down). */
  disconnectServer(): Promise<void>;
  /** Run code in the transport's kernel. */
  execute(
    code: string
  ): Kernel.IShellFuture<
    KernelMessage.IExecuteRequestMsg,
    KernelMessage.IExecuteReplyMsg
  >;
}

/** The transport token. */
export const IKernelTransport = new Token<IKernelTransport>(
  'yolo-lab:IKernelTransport',
  'The connection to the yolo_lab comm of the active notebook kernel or a remote kernel.'
);
