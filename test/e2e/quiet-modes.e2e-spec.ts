/**
 * The two quiet modes of ChabokModule, each in a user's app pointed at the local Chabok
 * stand-in, so that anything sent would be seen:
 * - `enabled: false`: events are still validated, then nothing is sent and no timer runs;
 * - `dryRun: true`: everything runs up to the wire (batching included) and each request
 *   that would be sent is logged instead, without the access token.
 */
import { jest } from '@jest/globals';
import { Controller, Get, Param } from '@nestjs/common';
import request from 'supertest';
import { ChabokValidationError, TrackEvent, type EventTrackingService } from '../../src/index.js';
import { nestLogs, startApp, type AppHarness, type LogLine } from '../support/app-harness.js';

jest.setTimeout(30_000);

@Controller('shop')
class ShopController {
  @Get('products/:id')
  @TrackEvent({
    name: 'productViewed',
    data: (_context, [req]) => ({ productId: Number((req as { params: { id: string } }).params.id) }),
  })
  product(@Param('id') id: string) {
    return { id, name: 'milk' };
  }
}

const DEVICE = { 'x-chabok-installation-id': 'device-1' };

let harness: AppHarness | undefined;

afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** Polls `predicate` every 5 ms; rejects after `timeoutMs`. */
async function waitUntil(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Ref'd timers (what `process.getActiveResourcesInfo()` reports as 'Timeout'). */
function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

/** Tracks three valid events the way an app does, and reports the timers that arming them created. */
function trackCountingTimers(tracking: EventTrackingService): {
  settled: Promise<unknown>;
  timeoutsSet: number;
  intervalsSet: number;
  activeTimeoutsAdded: number;
} {
  const activeBefore = activeTimeouts();
  const setTimeoutSpy = jest.spyOn(globalThis, 'setTimeout');
  const setIntervalSpy = jest.spyOn(globalThis, 'setInterval');
  try {
    const settled = Promise.all([
      tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 7 } }),
      tracking.trackMany([
        { userId: '42', eventName: 'viewCart' },
        { installationId: 'device-1', eventName: 'appOpened' },
      ]),
      tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 250_000, currency: 'RIAL' }),
    ]);
    return {
      settled,
      timeoutsSet: setTimeoutSpy.mock.calls.length,
      intervalsSet: setIntervalSpy.mock.calls.length,
      activeTimeoutsAdded: activeTimeouts() - activeBefore,
    };
  } finally {
    setTimeoutSpy.mockRestore();
    setIntervalSpy.mockRestore();
  }
}

describe('enabled: false', () => {
  it('resolves valid events and sends nothing: no request reaches Chabok, nothing is queued', async () => {
    harness = await startApp('express', { controllers: [ShopController], chabok: { enabled: false } });
    const { tracking, standIn } = harness;

    await expect(
      tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 7 } }),
    ).resolves.toBeUndefined();
    await expect(
      tracking.trackMany([
        { userId: '42', eventName: 'viewCart' },
        { installationId: 'device-1', eventName: 'appOpened' },
      ]),
    ).resolves.toBeUndefined();
    await expect(
      tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 250_000 }),
    ).resolves.toBeUndefined();
    await expect(tracking.trackRevenue({ userId: '42', revenue: 99_000, currency: 'RIAL' })).resolves.toBeUndefined();
    await request(harness.url).get('/shop/products/7').set(DEVICE).expect(200, { id: '7', name: 'milk' });

    await tracking.flush();
    await new Promise((resolve) => setTimeout(resolve, 100)); // longer than flushIntervalMs (10 ms), had anything been queued
    expect(standIn.requests).toEqual([]);
    expect(tracking.stats()).toMatchObject({
      accepted: 0,
      queued: 0,
      inFlight: 0,
      batchesSent: 0,
      failed: 0,
      dropped: 0,
    });
  });

  it('still refuses invalid events with ChabokValidationError, as when enabled', async () => {
    harness = await startApp('express', { chabok: { enabled: false } });
    const { tracking } = harness;

    await expect(tracking.track({ eventName: 'addToCart' } as never)).rejects.toBeInstanceOf(ChabokValidationError);
    await expect(
      tracking.track({ userId: '42', eventName: 'addToCart', eventData: { price: Number.NaN } }),
    ).rejects.toMatchObject({
      violations: [expect.objectContaining({ path: 'eventData.price' })],
    });
    await expect(
      tracking.trackMany([
        { userId: '42', eventName: 'viewCart' },
        { userId: '42', eventName: '' },
      ]),
    ).rejects.toMatchObject({
      violations: [expect.objectContaining({ path: '[1].eventName' })],
    });
    await expect(tracking.trackPurchase({ userId: '42', eventName: 'checkout' } as never)).rejects.toMatchObject({
      violations: expect.arrayContaining([expect.objectContaining({ path: 'revenue' })]),
    });
    expect(harness.standIn.requests).toEqual([]);
  });

  it('arms no timer when events are tracked (an enabled app arms its flush timer, see below)', async () => {
    harness = await startApp('express', { chabok: { enabled: false } });

    const tracked = trackCountingTimers(harness.tracking);

    await expect(tracked.settled).resolves.toBeDefined();
    expect(tracked).toMatchObject({ timeoutsSet: 0, intervalsSet: 0, activeTimeoutsAdded: 0 });
  });

  it('(for comparison) an enabled app does arm its flush timer for the same calls, and delivers', async () => {
    harness = await startApp('express', { chabok: { enabled: true } });

    const tracked = trackCountingTimers(harness.tracking);

    expect(tracked.timeoutsSet).toBeGreaterThanOrEqual(1);
    await tracked.settled;
    expect(harness.standIn.acceptedCount).toBe(4);
  });
});

describe('dryRun: true', () => {
  /** The library's dry-run lines: `[dry run] POST <url> <body>`. */
  function dryRunLines(): LogLine[] {
    return nestLogs.withContext('Chabok').filter((line) => line.message.startsWith('[dry run]'));
  }

  /** Splits a dry-run line into the URL and the parsed JSON body. */
  function parseDryRun(line: LogLine): { url: string; body: unknown } {
    const match = /^\[dry run\] POST (\S+) (.*)$/s.exec(line.message);
    if (!match) throw new Error(`not a dry-run line: ${line.message}`);
    return { url: match[1]!, body: JSON.parse(match[2]!) };
  }

  beforeEach(() => {
    nestLogs.clear();
  });

  it('sends nothing to Chabok, and logs the request it would send with its URL and JSON body', async () => {
    harness = await startApp('express', { controllers: [ShopController], chabok: { dryRun: true } });

    await request(harness.url).get('/shop/products/7').set(DEVICE).expect(200);
    await waitUntil(() => harness!.tracking.stats().accepted === 1); // @TrackEvent() queues just after the response
    await harness.tracking.flush();

    expect(dryRunLines()).toHaveLength(1);
    expect(dryRunLines()[0]).toMatchObject({ level: 'log', context: 'Chabok' });
    expect(parseDryRun(dryRunLines()[0]!)).toEqual({
      url: `${harness.standIn.baseUrl}/installations/track`,
      body: {
        installationId: 'device-1',
        eventName: 'productViewed',
        eventTime: expect.any(Number),
        eventData: { productId: 7 },
      },
    });
    expect(harness.standIn.requests).toEqual([]);
    expect(harness.tracking.stats()).toMatchObject({ accepted: 1, delivered: 1, batchesSent: 1, queued: 0, failed: 0 });
    expect(nestLogs.text()).not.toContain(harness.standIn.accessToken);
  });

  it('still batches: two events tracked together are one logged array; another endpoint is its own request', async () => {
    harness = await startApp('express', { chabok: { dryRun: true } });
    const { tracking } = harness;

    await Promise.all([
      tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 7 } }),
      tracking.track({ installationId: 'device-1', eventName: 'appOpened' }),
      tracking.trackPurchase({ userId: '42', eventName: 'checkout', revenue: 250_000, currency: 'RIAL' }),
    ]);

    const logged = dryRunLines().map(parseDryRun);
    expect(logged).toHaveLength(2);
    expect(logged).toEqual(
      expect.arrayContaining([
        {
          url: `${harness.standIn.baseUrl}/installations/track`,
          body: [
            { userId: '42', eventName: 'addToCart', eventTime: expect.any(Number), eventData: { productId: 7 } },
            { installationId: 'device-1', eventName: 'appOpened', eventTime: expect.any(Number) },
          ],
        },
        {
          url: `${harness.standIn.baseUrl}/installations/trackPurchase`,
          body: {
            userId: '42',
            eventName: 'checkout',
            eventTime: expect.any(Number),
            revenue: 250_000,
            currency: 'RIAL',
          },
        },
      ]),
    );
    expect(tracking.stats()).toMatchObject({ delivered: 3, batchesSent: 2 });
    expect(harness.standIn.requests).toEqual([]);
    expect(nestLogs.text()).not.toContain(harness.standIn.accessToken);
  });

  it('cuts a long body in the log, saying how long it was', async () => {
    harness = await startApp('express', { chabok: { dryRun: true } });
    const events = Array.from({ length: 60 }, (_, i) => ({
      userId: `user-${i}`,
      eventName: 'searched',
      eventData: { query: 'shir-e kam-charb '.repeat(6) },
    }));

    await harness.tracking.trackMany(events);

    const [line, ...others] = dryRunLines();
    expect(others).toEqual([]);
    const fullLength = /… \((\d+) chars\)$/.exec(line!.message)?.[1];
    expect(Number(fullLength)).toBeGreaterThan(4_000);
    expect(line!.message.length).toBeLessThan(4_200);
    expect(harness.standIn.requests).toEqual([]);
  });

  it('is silent when combined with enabled: false (enabled: false wins)', async () => {
    harness = await startApp('express', { chabok: { dryRun: true, enabled: false } });

    await harness.tracking.track({ userId: '42', eventName: 'addToCart' });
    await harness.tracking.flush();

    expect(dryRunLines()).toEqual([]);
    expect(harness.standIn.requests).toEqual([]);
  });
});
