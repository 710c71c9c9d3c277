import type { AcceptedEvent } from '../../stand-in/chabok-stand-in.js';

/**
 * One readable line per event the stand-in accepted, e.g.
 * `track          userId=42 addToCart {"productId":12345,"quantity":2}`.
 */
export function describeEvent({ endpoint, event }: AcceptedEvent): string {
  const who =
    event.userId !== undefined ? `userId=${String(event.userId)}` : `installationId=${String(event.installationId)}`;
  const name = endpoint === 'trackRevenue' ? 'Purchase' : String(event.eventName);
  const revenue =
    event.revenue === undefined
      ? ''
      : ` revenue=${String(event.revenue)}${event.currency ? ` ${String(event.currency)}` : ''}`;
  const data = event.eventData === undefined ? '' : ` ${JSON.stringify(event.eventData)}`;
  return `${endpoint.padEnd(14)} ${who} ${name}${revenue}${data}`;
}
