/**
 * A tunnel through an SSH connection: a listener on this machine's
 * 127.0.0.1 whose every connection is carried, on a direct-tcpip channel,
 * to an address as seen from the remote (Jupyter on its 127.0.0.1).
 */
import { createServer, type Server, type Socket } from 'node:net';

import type { Client, ClientChannel } from 'ssh2';

/** A listener on this machine's 127.0.0.1 that forwards to the remote. */
export class Tunnel {
  private constructor(private readonly _server: Server) {}

  /**
   * Listen on this machine's 127.0.0.1:`localPort` (0: any free port) and
   * carry each connection over `conn` to `to` as seen from the remote
   * (`hostName` names the remote in messages).
   */
  static open(
    conn: Client,
    hostName: string,
    to: { host: string; port: number },
    localPort: number
  ): Promise<Tunnel> {
    const server = createServer(socket => forward(conn, hostName, socket, to));
    return new Promise((done, fail) => {
      server.once('error', fail);
      server.listen({ host: '127.0.0.1', port: localPort, exclusive: true }, () => {
        server.removeListener('error', fail);
        done(new Tunnel(server));
      });
    });
  }

  /** The local port the tunnel listens on. */
  get port(): number {
    const address = this._server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** Stop listening (open connections go with the SSH connection). */
  close(): Promise<void> {
    return new Promise(done => this._server.close(() => done()));
  }
}

/** One local connection carried to `to` on a channel of its own; either end closing closes both. */
function forward(conn: Client, hostName: string, socket: Socket, to: { host: string; port: number }): void {
  socket.on('error', () => undefined);
  conn.forwardOut('127.0.0.1', socket.remotePort ?? 0, to.host, to.port, (error, channel) => {
    if (error) {
      process.stderr.write(
        `yolo-lab: the tunnel to ${to.host}:${to.port} on ${hostName} failed: ${error.message}` +
          `${/prohibited/i.test(error.message) ? ' (AllowTcpForwarding is off in its sshd_config)' : ''}\n`
      );
      socket.destroy();
      return;
    }
    const end = (): void => {
      socket.destroy();
      (channel as ClientChannel).destroy();
    };
    channel.on('error', end);
    channel.on('close', end);
    socket.on('close', end);
    socket.pipe(channel).pipe(socket);
  });
}
