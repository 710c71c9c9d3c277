/**
 * ChabokHealthIndicator in durable mode: a real terminus endpoint reports the Redis queue,
 * and goes down while Redis is unreachable.
 */
import { jest } from '@jest/globals';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ChabokModule, EventTrackingService } from '../../src/index.js';
import { ChabokHealthIndicator } from '../../src/health/index.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';
import { RedisServer } from '../support/redis-server.js';

jest.setTimeout(30_000);

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly chabok: ChabokHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.chabok.isHealthy('chabok', { maxQueued: 5 })]);
  }
}

@Module({ imports: [TerminusModule], controllers: [HealthController], providers: [ChabokHealthIndicator] })
class HealthModule {}

describe('health indicator in durable mode', () => {
  let redis: RedisServer;
  let standIn: ChabokStandIn;
  let app: INestApplication;

  beforeAll(async () => {
    redis = await RedisServer.start();
    standIn = await ChabokStandIn.start();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChabokModule.forRoot({
          isGlobal: true,
          baseUrl: standIn.baseUrl,
          accessToken: standIn.accessToken,
          flushIntervalMs: 5,
          shutdownTimeoutMs: 500,
          delivery: { mode: 'durable', connection: redis.connection, queueName: 'health', role: 'producer' },
        }),
        HealthModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await standIn.close();
    await redis.stop();
  });

  /** stats().durable is refreshed from Redis every second: wait for the view to catch up. */
  async function waitForDurable(
    predicate: (d: NonNullable<ReturnType<EventTrackingService['stats']>['durable']>) => boolean,
  ) {
    const tracking = app.get(EventTrackingService);
    const until = Date.now() + 10_000;
    while (!predicate(tracking.stats().durable!)) {
      if (Date.now() > until)
        throw new Error(`durable stats never matched: ${JSON.stringify(tracking.stats().durable)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('is up with the Redis queue in its details, then down once more than maxQueued jobs wait', async () => {
    const ok = await request(app.getHttpServer()).get('/health').expect(200);
    expect(ok.body.details.chabok).toMatchObject({ status: 'up', redis: { up: true, waiting: 0, failedJobs: 0 } });

    // A producer-only app: nothing consumes, so the jobs wait in Redis.
    const tracking = app.get(EventTrackingService);
    await Promise.all(Array.from({ length: 8 }, (_, i) => tracking.track({ userId: `u${i}`, eventName: 'queued' })));
    await waitForDurable((d) => d.waiting === 8);
    const deep = await request(app.getHttpServer()).get('/health').expect(503);
    expect(deep.body.details.chabok).toMatchObject({
      status: 'down',
      reason: 'more than 5 events waiting in Redis',
      redis: { waiting: 8 },
    });
  });

  it('is down while Redis is unreachable', async () => {
    await redis.stop();
    await waitForDurable((d) => !d.redisUp);
    const down = await request(app.getHttpServer()).get('/health').expect(503);
    expect(down.body.details.chabok).toMatchObject({
      status: 'down',
      reason: 'Redis is unreachable',
      redis: { up: false },
    });
  });
});
