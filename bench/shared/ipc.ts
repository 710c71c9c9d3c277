/**
 * The child side of the benchmarks' IPC: a child announces itself with `ready(info)` and
 * answers the parent's requests (`{ id, type, ... }`) with handlers. It shuts down when
 * asked (`stop`) or when the parent goes away (IPC disconnect), so no child outlives a run.
 */
export type Handlers = Record<string, (message: Record<string, unknown>) => unknown>;

export function serve(handlers: Handlers, shutdown: () => Promise<void>): void {
  if (!process.send) throw new Error('run this file through the benchmark runner (it needs an IPC channel)');
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await shutdown();
    process.disconnect?.();
  };
  process.on('disconnect', () => void stop());
  process.on('message', async (raw) => {
    const message = raw as { id: number; type: string } & Record<string, unknown>;
    if (message.type === 'stop') {
      await stop();
      return;
    }
    try {
      const handler = handlers[message.type];
      if (!handler) throw new Error(`unknown request "${message.type}"`);
      const result = await handler(message);
      process.send?.({ id: message.id, ok: true, result });
    } catch (error) {
      process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.stack : String(error) });
    }
  });
}

export function ready(info: Record<string, unknown>): void {
  process.send?.({ type: 'ready', ...info });
}

/** App CPU time so far (user + system), in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
