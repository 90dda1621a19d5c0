/**
 * Tokens shared between yolo-lab plugins.
 */
import { Token } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { EnvironmentModel } from './model';
import type { TelemetryModel } from './telemetry/model';
import type {
  IRunStopResultMessage,
  IRunSummary,
  RunListener
} from './training/types';

/** Where the bridge's kernel runs. */
export type IKernelTarget =
  { kind: 'notebook' } | { kind: 'server'; url: string };

/**
 * The connection between yolo-lab and the kernel of the active notebook.
 *
 * Provided by the `yolo-lab:bridge` plugin; features that talk to the kernel
 * (the panel, the toolbar, later telemetry and training) require it.
 */
export interface IKernelBridge {
  /** The state of the connection and the last environment report. */
  readonly model: EnvironmentModel;

  /**
   * Run the environment doctor in the attached kernel.
   *
   * Resolves when the report (or a reason why there is none) is in the model.
   */
  checkEnvironment(): Promise<void>;

  /** Telemetry of the attached kernel, fed while someone listens. */
  readonly telemetry: TelemetryModel;

  /** Listen to the kernel's telemetry until the handle is disposed. */
  listenTelemetry(): IDisposable;

  /** Listen to a training run's events (history first) until disposed. */
  listenRun(run: string, listener: RunListener): IDisposable;

  /** Ask a run to stop after its current batch (last.pt is saved). */
  stopRun(run: string): Promise<IRunStopResultMessage>;

  /** The runs of a project folder (default runs/train), newest first. */
  listRuns(project?: string): Promise<IRunSummary[]>;

  /** Runs shown somewhere (their views listen) that are still going. */
  activeRuns(): string[];

  /** Whether a comm to a yolo-lab kernel is open. */
  readonly connected: boolean;

  /** The notebook's kernel, or a kernel on another Jupyter server. */
  readonly target: IKernelTarget;

  /** Emits when the target changes. */
  readonly targetChanged: ISignal<IKernelBridge, IKernelTarget>;

  /** Start a kernel on a Jupyter server (URL and token) and use it. */
  connectServer(url: string, token: string, kernelName?: string): Promise<void>;

  /** Back to the notebook's kernel (the server's kernel is shut down). */
  disconnectServer(): Promise<void>;

  /** Run code in the bridge's kernel. */
  execute(
    code: string
  ): Kernel.IShellFuture<
    KernelMessage.IExecuteRequestMsg,
    KernelMessage.IExecuteReplyMsg
  >;
}

/** The kernel bridge token. */
export const IKernelBridge = new Token<IKernelBridge>(
  'yolo-lab:IKernelBridge',
  'Connects yolo-lab to the yolo_lab comm of the active notebook kernel.'
);
