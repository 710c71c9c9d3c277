import { request, type Agent } from 'node:http';

/**
 * One POST to a child-process app on 127.0.0.1; resolves with the status, or 0 when the
 * connection failed (e.g. the app is shutting down). Bounded by a 5 s timeout.
 */
export function post(
  port: number,
  path: string,
  options: { headers?: Record<string, string>; agent?: Agent | false } = {},
): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: options.headers,
        agent: options.agent ?? false,
        timeout: 5_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}
