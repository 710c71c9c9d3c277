/**
 * Starts a throwaway redis-server (Debian's package, installed by .ci/run) on a free
 * loopback port, with persistence off, and stops it. Tests of the durable mode use it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export class RedisServer {
  private constructor(
    readonly port: number,
    private process: ChildProcess,
  ) {}

  /** ioredis connection options for this server. */
  get connection(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.port };
  }

  static async start(port?: number): Promise<RedisServer> {
    const chosen = port ?? (await freePort());
    const child = spawn(
      'redis-server',
      ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await waitForReady(child, chosen);
    return new RedisServer(chosen, child);
  }

  /** Stops the server (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => (clearTimeout(timer), resolve()));
      child.kill('SIGTERM');
    });
  }

  /** Starts it again on the same port (data is gone: persistence is off). */
  async restart(): Promise<void> {
    await this.stop();
    this.process = (await RedisServer.start(this.port)).process;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function waitForReady(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on ${port}: ${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // With --loglevel warning nothing is printed on success; poll the port instead.
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${output}`));
    });
    const probe = async () => {
      const { Socket } = await import('node:net');
      const socket = new Socket();
      socket.once('connect', () => {
        socket.write('PING\r\n');
      });
      socket.once('data', (d) => {
        socket.destroy();
        if (d.toString().startsWith('+PONG')) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve();
        } else setTimeout(probe, 50);
      });
      socket.once('error', () => {
        socket.destroy();
        setTimeout(probe, 50);
      });
      socket.connect(port, '127.0.0.1');
    };
    void probe();
  });
}
