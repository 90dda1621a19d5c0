/**
 * What the transport talks to in notebook mode, and the one line of code it
 * runs in a kernel.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { ISignal } from '@lumino/signaling';

// The only code the transport runs in a kernel: importing the package
// registers its comm target. Everything else travels over the comm.
const BOOTSTRAP = 'import yolo_lab';

/** What the transport follows in notebook mode: the current session. */
export interface IKernelSource {
  /** The session of the current notebook, if any. */
  readonly current: ISessionContext | null;
  /** Emits when another notebook (or none) becomes current. */
  readonly currentChanged: ISignal<unknown, unknown>;
}

/** Import yolo_lab in the kernel; true, or the error the kernel gave. */
export async function bootstrap(
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

/** The notebook tracker as a kernel source: the current notebook's session. */
export function notebookSource(tracker: {
  readonly currentWidget: { readonly sessionContext: ISessionContext } | null;
  readonly currentChanged: ISignal<unknown, unknown>;
}): IKernelSource {
  return {
    get current() {
      return tracker.currentWidget?.sessionContext ?? null;
    },
    currentChanged: tracker.currentChanged
  };
}
