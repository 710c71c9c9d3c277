/** The event the throughput and memory benchmarks track: ~150 bytes of JSON on the wire. */
import type { TrackEventInput } from 'nestjs-chabok';

const INSTALLATIONS = Array.from({ length: 1_000 }, (_, i) => `inst-${String(i).padStart(8, '0')}`);

export function benchEvent(i: number): TrackEventInput {
  return {
    installationId: INSTALLATIONS[i % INSTALLATIONS.length]!,
    eventName: 'addToCart',
    eventData: { productId: 100_000 + (i % 900_000), productName: 'milk', quantity: 2 },
  };
}
