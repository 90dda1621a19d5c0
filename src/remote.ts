/**
 * A kernel started on another Jupyter server (one in a container, say)
 * through the server's REST and websocket API with its token.
 */
import {
  KernelManager,
  ServerConnection,
  type Kernel
} from '@jupyterlab/services';

/** A kernel on another server, and the manager that owns it. */
export interface IRemoteKernel {
  /** The server's base URL (no token, no /lab). */
  url: string;
  kernel: Kernel.IKernelConnection;
  manager: KernelManager;
}

/**
 * Start a kernel on the server at `url` (a token in the URL counts when
 * `token` is empty). The server must accept this page's origin
 * (`--ServerApp.allow_origin`; `yolo-lab up --server-only` sets it).
 */
export async function startRemoteKernel(
  url: string,
  token: string,
  kernelName: string
): Promise<IRemoteKernel> {
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
  return { url: baseUrl, kernel, manager };
}
