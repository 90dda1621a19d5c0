/**
 * Which kernel yolo-lab talks to: the notebook's, or a kernel on another
 * Jupyter server (a container started by `yolo-lab up --server-only`).
 */
import { Widget } from '@lumino/widgets';
import type { IKernelBridge, IKernelTarget } from './tokens';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * The kernel target picker at the top of the panel.
 */
export class TargetSection extends Widget {
  constructor(bridge: IKernelBridge) {
    super();
    this._bridge = bridge;
    this.addClass('yl-TargetSection');
    this._url.type = 'text';
    this._url.name = 'serverUrl';
    this._url.placeholder = 'http://127.0.0.1:8890/?token=…';
    this._token.type = 'password';
    this._token.name = 'serverToken';
    this._token.placeholder = 'token (if not in the URL)';
    this._connect.type = this._disconnect.type = 'button';
    this._connect.addEventListener('click', () => void this._onConnect());
    this._disconnect.addEventListener('click', () => void this._onDisconnect());
    const form = el('div', 'yl-TargetForm');
    form.append(this._url, this._token, this._connect);
    this.node.append(this._state, form, this._disconnect, this._message);
    bridge.targetChanged.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._bridge.targetChanged.disconnect(this._render, this);
    super.dispose();
  }

  private async _onConnect(): Promise<void> {
    const url = this._url.value.trim();
    if (!url) {
      this._message.textContent =
        'Give the URL of a Jupyter server (yolo-lab up --server-only prints it).';
      return;
    }
    this._connect.disabled = true;
    this._message.textContent = 'Starting a kernel on the server…';
    try {
      await this._bridge.connectServer(url, this._token.value.trim());
      this._message.textContent = '';
    } catch (reason) {
      this._message.textContent = String(
        reason instanceof Error ? reason.message : reason
      );
    } finally {
      this._connect.disabled = false;
    }
  }

  private async _onDisconnect(): Promise<void> {
    this._disconnect.disabled = true;
    try {
      await this._bridge.disconnectServer();
    } finally {
      this._disconnect.disabled = false;
    }
  }

  private _render(): void {
    const target: IKernelTarget = this._bridge.target;
    this.node.dataset.target = target.kind;
    const remote = target.kind === 'server';
    this._state.textContent = remote
      ? `Kernel: on the Jupyter server ${target.url}`
      : "Kernel: the current notebook's. Or use a Jupyter server:";
    (this._url.parentElement as HTMLElement).hidden = remote;
    this._disconnect.hidden = !remote;
  }

  private _bridge: IKernelBridge;
  private _state = el('div', 'yl-TargetState');
  private _url = el('input', 'jp-mod-styled yl-FormInput');
  private _token = el('input', 'jp-mod-styled yl-FormInput');
  private _connect = el(
    'button',
    'jp-Button jp-mod-styled yl-TargetConnect',
    'Connect'
  );
  private _disconnect = el(
    'button',
    'jp-Button jp-mod-styled yl-TargetDisconnect',
    "Back to the notebook's kernel"
  );
  private _message = el('div', 'yl-TargetMessage');
}
