/**
 * ChabokHealthIndicator in a user's @nestjs/terminus health endpoint, called over HTTP,
 * while the local Chabok stand-in takes events, and while it is down.
 */
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { Controller, Get, Inject, Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ChabokModule, EventTrackingService, type ChabokModuleOptions } from '../../src/index.js';
import { ChabokHealthIndicator, type ChabokHealthThresholds } from '../../src/health/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { RecordingLogger } from '../support/app-harness.js';

jest.setTimeout(30_000);

const TOKEN = 'health-spec-token-51c0';

/** Each test gives the app its own thresholds; an app would write them inline. */
const HEALTH_THRESHOLDS = 'app:chabok-health-thresholds';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly chabok: ChabokHealthIndicator,
    @Inject(HEALTH_THRESHOLDS) private readonly thresholds: ChabokHealthThresholds,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.chabok.isHealthy('chabok', this.thresholds)]);
  }
}

/** The app's health module: it needs EventTrackingService, which ChabokModule provides globally (isGlobal). */
@Module({})
class HealthModule {
  static register(thresholds: ChabokHealthThresholds): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule],
      controllers: [HealthController],
      providers: [ChabokHealthIndicator, { provide: HEALTH_THRESHOLDS, useValue: thresholds }],
    };
  }
}

const logs = new RecordingLogger();
let standIn: ChabokStandIn;
let app: INestApplication | undefined;

beforeEach(async () => {
  logs.clear();
  standIn = await ChabokStandIn.start({ accessToken: TOKEN });
});

afterEach(async () => {
  await app?.close();
  app = undefined;
  await standIn.close();
  expect(logs.text()).not.toContain(TOKEN);
});

/** Boots the user's app (ChabokModule + HealthModule) on a loopback port. */
async function boot(options: Partial<ChabokModuleOptions> = {}, thresholds: ChabokHealthThresholds = {}) {
  const moduleRef = await Test.createTestingModule({
    imports: [
      ChabokModule.forRoot({
        baseUrl: standIn.baseUrl,
        accessToken: TOKEN,
        flushIntervalMs: 5,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 50,
        shutdownTimeoutMs: 100,
        ...options,
        isGlobal: true,
      }),
      HealthModule.register(thresholds),
    ],
  })
    .setLogger(logs)
    .compile();
  app = moduleRef.createNestApplication();
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return { url, tracking: app.get(EventTrackingService) };
}

/** Polls `predicate` every 5 ms; rejects after `timeoutMs`. */
async function waitUntil(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('GET /health with ChabokHealthIndicator', () => {
  it('is 200 "ok" with the pipeline\'s details, and lastDeliveryAt once Chabok took an event', async () => {
    const { url, tracking } = await boot();

    const fresh = await request(url).get('/health').expect(200);
    expect(fresh.body.info.chabok).toEqual({
      status: 'up',
      queued: 0,
      inFlight: 0,
      oldestQueuedAgeMs: 0,
      lastDeliveryAt: null,
      paused: false,
      failed: 0,
      dropped: 0,
    });

    const before = Date.now();
    await tracking.track({ userId: '42', eventName: 'addToCart', eventData: { productId: 7 } });
    const after = Date.now();

    const res = await request(url).get('/health').expect(200);
    const chabok = {
      status: 'up',
      queued: 0,
      inFlight: 0,
      oldestQueuedAgeMs: 0,
      lastDeliveryAt: expect.any(String),
      paused: false,
      failed: 0,
      dropped: 0,
    };
    expect(res.body).toEqual({ status: 'ok', info: { chabok }, error: {}, details: { chabok } });
    const lastDeliveryAt = Date.parse(res.body.info.chabok.lastDeliveryAt);
    expect(lastDeliveryAt).toBeGreaterThanOrEqual(before);
    expect(lastDeliveryAt).toBeLessThanOrEqual(after);
    expect(standIn.acceptedCount).toBe(1);
  });

  it('is 503 with chabok "down" and a reason when more than maxQueued events wait while Chabok is down; 200 again once it is back', async () => {
    // At most 2 events per request and 1 request at a time: of 10 events, 8 or more are always queued.
    const { url, tracking } = await boot({ maxBatchSize: 2, maxConcurrentRequests: 1 }, { maxQueued: 5 });
    await standIn.goDown();

    const tracked = Array.from({ length: 10 }, (_, i) =>
      tracking.track({ userId: `user-${i}`, eventName: 'addToCart' }),
    );
    await waitUntil(() => tracking.stats().paused);

    const res = await request(url).get('/health').expect(503);
    expect(res.body).toMatchObject({
      status: 'error',
      info: {},
      error: {
        chabok: {
          status: 'down',
          reason: 'more than 5 events queued',
          paused: true,
          lastDeliveryAt: null,
          failed: 0,
          dropped: 0,
        },
      },
    });
    expect(res.body.error.chabok.queued).toBeGreaterThan(5);
    expect(res.body.details.chabok).toEqual(res.body.error.chabok);

    await standIn.comeBack();
    await Promise.all(tracked);
    const recovered = await request(url).get('/health').expect(200);
    expect(recovered.body.info.chabok).toMatchObject({
      status: 'up',
      queued: 0,
      paused: false,
      lastDeliveryAt: expect.any(String),
    });
    expect(standIn.acceptedCount).toBe(10);
  });

  it('is 503 with chabok "down" when the oldest queued event is older than maxQueueAgeMs', async () => {
    // One event per request, one request at a time: of 3 events, 2 or more are always queued.
    const { url, tracking } = await boot({ maxBatchSize: 1, maxConcurrentRequests: 1 }, { maxQueueAgeMs: 50 });
    await standIn.goDown();

    for (const userId of ['1', '2', '3']) void tracking.track({ userId, eventName: 'addToCart' });
    await waitUntil(() => {
      const { oldestQueuedAt } = tracking.stats();
      return oldestQueuedAt !== null && Date.now() - oldestQueuedAt > 100;
    });

    const res = await request(url).get('/health').expect(503);
    expect(res.body.error.chabok).toMatchObject({
      status: 'down',
      reason: 'oldest queued event is older than 50 ms',
      paused: true,
    });
    expect(res.body.error.chabok.oldestQueuedAgeMs).toBeGreaterThan(50);
    expect(res.body.error.chabok.queued).toBeGreaterThanOrEqual(2);
  });

  it('stays 200 "up" during a short outage, reporting paused: true and the last successful delivery', async () => {
    const { url, tracking } = await boot();
    await tracking.track({ userId: '42', eventName: 'appOpened' });
    const delivered = (await request(url).get('/health').expect(200)).body.info.chabok.lastDeliveryAt as string;
    await standIn.goDown();

    void tracking.track({ userId: '42', eventName: 'addToCart' });
    await waitUntil(() => tracking.stats().paused);

    const res = await request(url).get('/health').expect(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.info.chabok).toMatchObject({ status: 'up', paused: true, lastDeliveryAt: delivered, failed: 0 });
    expect(res.body.info.chabok.queued + res.body.info.chabok.inFlight).toBe(1);
  });
});
