/**
 * Which kernel yolo-lab talks to: the notebook's, or a kernel on another
 * Jupyter server (a container started by `yolo-lab up --server-only`).
 */
import { ServerConnection } from '@jupyterlab/services';
import {
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';
import type { IKernelTarget, IKernelTransport } from './tokens';
import { el } from './dom';
import { requestYoloLab } from './serverApi';

/**
 * A server `yolo-lab up` started, as the yolo-lab server extension lists it:
 * without its token, which is asked for when the user connects to it.
 */
export interface ILaunchedServer {
  name: string;
  url: string;
  server_only: boolean;
  image?: string | null;
  started?: number | null;
  alive: boolean | null;
}

/**
 * The servers `yolo-lab up` started on this machine, from the yolo-lab
 * server extension of this JupyterLab (GET /yolo-lab/servers).
 */
export async function fetchLaunchedServers(
  settings: ServerConnection.ISettings
): Promise<ILaunchedServer[]> {
  const body = await requestYoloLab<{ servers: ILaunchedServer[] }>(
    settings,
    ['servers'],
    {},
    'this JupyterLab does not allow you to read the launched servers'
  );
  return body.servers;
}

/** The token of one launched server, asked for only to connect to it. */
export async function fetchServerToken(
  settings: ServerConnection.ISettings,
  name: string
): Promise<string> {
  const body = await requestYoloLab<{ token: string }>(
    settings,
    ['servers', name, 'token'],
    {},
    'this JupyterLab does not allow you to read the launched servers'
  );
  return body.token;
}

/**
 * The kernel target picker at the top of the panel.
 */
export class TargetSection extends Widget {
  /**
   * `settings` name JupyterLab's own server (its extension lists the
   * launched servers); tests may give `listServers` and `serverToken`.
   */
  constructor(
    transport: IKernelTransport,
    settings: ServerConnection.ISettings,
    trans: TranslationBundle = nullTranslator.load('yolo_lab'),
    listServers: () => Promise<ILaunchedServer[]> = () =>
      fetchLaunchedServers(settings),
    serverToken: (name: string) => Promise<string> = name =>
      fetchServerToken(settings, name)
  ) {
    super();
    this._serverToken = serverToken;
    this._transport = transport;
    this._trans = trans;
    this._connect.textContent = trans.__('Connect');
    this._disconnect.textContent = trans.__("Back to the notebook's kernel");
    this._listServers = listServers;
    this.addClass('yl-TargetSection');
    this._url.type = 'text';
    this._url.name = 'serverUrl';
    this._url.placeholder = 'http://127.0.0.1:8890/?token=…';
    this._url.setAttribute('aria-label', trans.__('Server URL'));
    this._token.type = 'password';
    this._token.name = 'serverToken';
    this._token.placeholder = trans.__('token (if not in the URL)');
    this._token.setAttribute('aria-label', trans.__('Server token'));
    this._connect.type = this._disconnect.type = 'button';
    this._connect.addEventListener('click', () => void this._onConnect());
    this._disconnect.addEventListener('click', () => void this._onDisconnect());
    const form = el('div', 'yl-TargetForm');
    form.append(this._url, this._token, this._connect);
    const refresh = el(
      'button',
      'jp-Button jp-mod-minimal yl-ServersRefresh',
      trans.__('Refresh')
    );
    refresh.type = 'button';
    refresh.title = trans.__(
      'List the servers yolo-lab up started on this machine'
    );
    refresh.addEventListener('click', () => void this.refreshServers());
    const launched = el('div', 'yl-Launched');
    launched.append(
      el('span', 'yl-LaunchedTitle', trans.__('Started by yolo-lab up:')),
      refresh,
      this._servers
    );
    this.node.append(
      this._state,
      form,
      this._disconnect,
      this._message,
      launched
    );
    transport.targetChanged.connect(this._render, this);
    this._render();
    void this.refreshServers();
  }

  /** List the servers `yolo-lab up` started (alive ones can be used). */
  async refreshServers(): Promise<void> {
    let servers: ILaunchedServer[];
    try {
      servers = await this._listServers();
    } catch (reason) {
      this._servers.replaceChildren(
        el(
          'li',
          'yl-LaunchedNone',
          this._trans.__('Cannot list them: %1', String(reason))
        )
      );
      return;
    }
    if (!servers.length) {
      this._servers.replaceChildren(
        el(
          'li',
          'yl-LaunchedNone',
          this._trans.__('none (yolo-lab up --server-only starts one)')
        )
      );
      return;
    }
    this._servers.replaceChildren(
      ...servers.map(server => {
        const li = el('li', 'yl-LaunchedServer');
        li.dataset.name = server.name;
        li.dataset.alive = String(server.alive);
        const use = el(
          'button',
          'jp-Button jp-mod-minimal yl-UseServer',
          this._trans.__('Use')
        );
        use.type = 'button';
        use.setAttribute('aria-label', this._trans.__('Use %1', server.name));
        use.disabled = server.alive === false;
        use.title =
          server.alive === false
            ? this._trans.__('it does not answer')
            : server.url;
        use.addEventListener('click', () => void this._useServer(server));
        li.append(
          el(
            'span',
            'yl-LaunchedName',
            server.alive === false
              ? this._trans.__('%1 (not answering)', server.name)
              : server.name
          ),
          use
        );
        return li;
      })
    );
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._transport.targetChanged.disconnect(this._render, this);
    super.dispose();
  }

  private async _useServer(server: ILaunchedServer): Promise<void> {
    this._url.value = server.url;
    try {
      this._token.value = await this._serverToken(server.name);
    } catch (reason) {
      this._message.textContent = String(
        reason instanceof Error ? reason.message : reason
      );
      return;
    }
    await this._onConnect();
  }

  private async _onConnect(): Promise<void> {
    const url = this._url.value.trim();
    if (!url) {
      this._message.textContent = this._trans.__(
        'Give the URL of a Jupyter server (yolo-lab up --server-only prints it).'
      );
      return;
    }
    this._connect.disabled = true;
    this._message.textContent = this._trans.__(
      'Starting a kernel on the server…'
    );
    try {
      await this._transport.connectServer(url, this._token.value.trim());
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
      await this._transport.disconnectServer();
    } finally {
      this._disconnect.disabled = false;
    }
  }

  private _render(): void {
    const target: IKernelTarget = this._transport.target;
    this.node.dataset.target = target.kind;
    const remote = target.kind === 'server';
    this._state.textContent = remote
      ? this._trans.__('Kernel: on the Jupyter server %1', target.url)
      : this._trans.__(
          "Kernel: the current notebook's. Or use a Jupyter server:"
        );
    (this._url.parentElement as HTMLElement).hidden = remote;
    this._disconnect.hidden = !remote;
  }

  private _transport: IKernelTransport;
  private _listServers: () => Promise<ILaunchedServer[]>;
  private _servers = el('ul', 'yl-LaunchedList');
  private _state = el('div', 'yl-TargetState');
  private _url = el('input', 'jp-mod-styled yl-FormInput');
  private _token = el('input', 'jp-mod-styled yl-FormInput');
  private _trans: TranslationBundle;
  private _serverToken: (name: string) => Promise<string>;
  private _connect = el('button', 'jp-Button jp-mod-styled yl-TargetConnect');
  private _disconnect = el(
    'button',
    'jp-Button jp-mod-styled yl-TargetDisconnect'
  );
  private _message = el('div', 'yl-TargetMessage');
}
