/**
 * A minimal Jupyter kernel client over the server's REST and websocket
 * API (the same protocol JupyterLab's @jupyterlab/services speaks), for
 * tests and the benchmark: start a kernel, execute code, read its output.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';

/** What one execute_request produced. */
export interface ExecuteResult {
  status: string;
  stdout: string;
  stderr: string;
  error?: { ename: string; evalue: string };
}

interface Message {
  header: { msg_id: string; msg_type: string };
  parent_header: { msg_id?: string };
  channel: string;
  content: Record<string, unknown>;
}

/** A kernel in a Jupyter server, reached with the server's token. */
export class KernelClient {
  private readonly _session = randomUUID();
  private readonly _waiting = new Map<string, (message: Message) => void>();

  private constructor(
    private readonly _baseUrl: string,
    private readonly _token: string,
    readonly id: string,
    private readonly _ws: WebSocket
  ) {
    _ws.on('message', data => {
      const message = JSON.parse(data.toString()) as Message;
      const parent = message.parent_header?.msg_id;
      if (parent !== undefined) this._waiting.get(parent)?.(message);
    });
  }

  /** Start a kernel (the server's default kernelspec) and open its channels. */
  static async start(baseUrl: string, token: string): Promise<KernelClient> {
    const response = await fetch(`${baseUrl}/api/kernels`, {
      method: 'POST',
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: '{}'
    });
    if (response.status !== 201) {
      throw new Error(`starting a kernel failed: HTTP ${response.status} ${await response.text()}`);
    }
    const { id } = (await response.json()) as { id: string };
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/kernels/${id}/channels`, {
      headers: { Authorization: `token ${token}` }
    });
    await new Promise<void>((done, fail) => {
      ws.once('open', () => done());
      ws.once('error', fail);
    });
    return new KernelClient(baseUrl, token, id, ws);
  }

  /** Run code; resolves once the reply and the kernel's return to idle have arrived. */
  execute(code: string, timeoutMs = 120_000): Promise<ExecuteResult> {
    const msgId = randomUUID();
    const result: ExecuteResult = { status: '', stdout: '', stderr: '' };
    return new Promise((done, fail) => {
      let replied = false;
      let idle = false;
      const timer = setTimeout(() => {
        this._waiting.delete(msgId);
        fail(new Error(`no execute reply within ${timeoutMs} ms for: ${code.slice(0, 80)}`));
      }, timeoutMs);
      const finish = (): void => {
        if (replied && idle) {
          clearTimeout(timer);
          this._waiting.delete(msgId);
          done(result);
        }
      };
      this._waiting.set(msgId, message => {
        const c = message.content;
        switch (message.header.msg_type) {
          case 'stream':
            if (c.name === 'stdout') result.stdout += String(c.text);
            else result.stderr += String(c.text);
            break;
          case 'error':
            result.error = { ename: String(c.ename), evalue: String(c.evalue) };
            break;
          case 'execute_reply':
            result.status = String(c.status);
            replied = true;
            break;
          case 'status':
            if (c.execution_state === 'idle') idle = true;
            break;
        }
        finish();
      });
      this._ws.send(
        JSON.stringify({
          header: {
            msg_id: msgId,
            msg_type: 'execute_request',
            username: 'yolo-lab-test',
            session: this._session,
            date: new Date().toISOString(),
            version: '5.3'
          },
          parent_header: {},
          metadata: {},
          channel: 'shell',
          content: {
            code,
            silent: false,
            store_history: false,
            user_expressions: {},
            allow_stdin: false,
            stop_on_error: true
          },
          buffers: []
        })
      );
    });
  }

  /** Close the channels and shut the kernel down. */
  async shutdown(): Promise<void> {
    this._ws.close();
    await fetch(`${this._baseUrl}/api/kernels/${this.id}`, {
      method: 'DELETE',
      headers: { Authorization: `token ${this._token}` }
    });
  }
}
