/**
 * Lets `flush()` wait for "everything queued before this call" without keeping a list of
 * those events: each event records the flush generation (epoch) it was queued in, and the
 * tracker counts the unsettled events per epoch. A flush opens a new epoch and resolves
 * once no older epoch has unsettled events.
 */
export class EpochTracker {
  private epoch = 0;
  private readonly open = new Map<number, number>();
  private waiters: { upTo: number; resolve: () => void }[] = [];

  get current(): number {
    return this.epoch;
  }

  /** True while some flush() is waiting: the pipeline then sends partial batches at once. */
  get flushPending(): boolean {
    return this.waiters.length > 0;
  }

  add(epoch: number): void {
    this.open.set(epoch, (this.open.get(epoch) ?? 0) + 1);
  }

  settle(epoch: number): void {
    const left = (this.open.get(epoch) ?? 1) - 1;
    if (left > 0) {
      this.open.set(epoch, left);
      return;
    }
    this.open.delete(epoch);
    if (this.waiters.length) this.wake();
  }

  flush(): Promise<void> {
    const upTo = this.epoch++;
    if (!this.hasOpenUpTo(upTo)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ upTo, resolve }));
  }

  private hasOpenUpTo(upTo: number): boolean {
    for (const epoch of this.open.keys()) if (epoch <= upTo) return true;
    return false;
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => !this.hasOpenUpTo(w.upTo));
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}
