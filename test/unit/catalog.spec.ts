import { Controller, Post, Body, type INestApplication, type LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { IsInt, IsString, Min } from 'class-validator';
import request from 'supertest';
import {
  ChabokModule,
  ChabokValidationError,
  EventTrackingService,
  TrackEvent,
  type ChabokModuleOptions,
  type EventData,
} from '../../src/index.js';
import { KeyTypeGuard } from '../../src/validation/key-type-guard.js';
import { ChabokStandIn } from '../../stand-in/chabok-stand-in.js';

class AddToCartData {
  @IsInt() @Min(1) productId!: number;
  @IsString() productName!: string;
}

class SignupData {
  @IsString() plan!: string;
}

@Controller()
class SignupController {
  @Post('signup')
  @TrackEvent({ name: 'signup', dataType: SignupData, data: (_ctx, args) => (args[0] as { body: EventData }).body })
  signup(@Body() body: unknown) {
    return { ok: true, body };
  }
}

class LogRecorder implements LoggerService {
  readonly lines: string[] = [];
  log(m: unknown) {
    this.lines.push(`log ${String(m)}`);
  }
  warn(m: unknown) {
    this.lines.push(`warn ${String(m)}`);
  }
  error(m: unknown) {
    this.lines.push(`error ${String(m)}`);
  }
  debug() {}
  verbose() {}
}

describe('typed event catalogue and key-type guard', () => {
  let standIn: ChabokStandIn;
  let app: INestApplication;
  let logs: LogRecorder;

  async function boot(extra: Partial<ChabokModuleOptions> = {}): Promise<EventTrackingService> {
    logs = new LogRecorder();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ChabokModule.forRoot({
          baseUrl: standIn.baseUrl,
          accessToken: standIn.accessToken,
          flushIntervalMs: 5,
          catalog: { addToCart: AddToCartData },
          ...extra,
        }),
      ],
      controllers: [SignupController],
    })
      .setLogger(logs)
      .compile();
    app = moduleRef.createNestApplication({ logger: logs });
    await app.init();
    return app.get(EventTrackingService);
  }

  beforeAll(async () => {
    standIn = await ChabokStandIn.start();
  });
  afterEach(async () => {
    await app?.close();
    standIn.reset();
  });
  afterAll(() => standIn.close());

  it('delivers a catalogued event whose eventData satisfies its class', async () => {
    const tracking = await boot();
    await tracking.track({ userId: '1', eventName: 'addToCart', eventData: { productId: 7, productName: 'milk' } });
    expect(standIn.events()).toEqual([
      expect.objectContaining({ eventName: 'addToCart', eventData: { productId: 7, productName: 'milk' } }),
    ]);
  });

  it('refuses a catalogued event that breaks its class, naming each field, and sends nothing', async () => {
    const tracking = await boot();
    const bad = { userId: '1', eventName: 'addToCart', eventData: { productId: 0, extra: 1 } } as never;
    const error = await tracking.track(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChabokValidationError);
    const paths = (error as ChabokValidationError).violations.map((v) => v.path).sort();
    expect(paths).toEqual(['eventData.extra', 'eventData.productId', 'eventData.productName']);
    await tracking.flush();
    expect(standIn.requests).toHaveLength(0);
  });

  it('applies a dataType given on the decorator', async () => {
    await boot();
    await request(app.getHttpServer())
      .post('/signup')
      .set('x-chabok-installation-id', 'dev-1')
      .send({ plan: 'pro' })
      .expect(201);
    await request(app.getHttpServer())
      .post('/signup')
      .set('x-chabok-installation-id', 'dev-2')
      .send({ plan: 42 })
      .expect(201);
    await standIn.waitForEvents(1);
    await app.get(EventTrackingService).flush();
    expect(standIn.events().map((e) => e.installationId)).toEqual(['dev-1']);
    expect(logs.lines.some((l) => l.startsWith('warn') && l.includes('eventData.plan'))).toBe(true);
  });

  it('warns once (by default) when a key changes type, and still sends', async () => {
    const tracking = await boot();
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: true } });
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: 1 } });
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: 2 } });
    expect(standIn.events()).toHaveLength(3);
    const warnings = logs.lines.filter((l) => l.includes('eventData.premium'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('first sent it as a boolean');
  });

  it("rejects a changed key type with keyTypeGuard: 'reject'", async () => {
    const tracking = await boot({ keyTypeGuard: 'reject' });
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: true } });
    const error = await tracking
      .track({ userId: '1', eventName: 'search', eventData: { premium: 'yes' } })
      .catch((e: unknown) => e);
    expect((error as ChabokValidationError).violations).toEqual([
      {
        path: 'eventData.premium',
        reason: expect.stringContaining('is a string, but "search" first sent it as a boolean'),
      },
    ]);
    // Another event name may use the same key with another type.
    await tracking.track({ userId: '1', eventName: 'other', eventData: { premium: 'yes' } });
    expect(standIn.events().map((e) => e.eventName)).toEqual(['search', 'other']);
  });

  it("does nothing with keyTypeGuard: 'off'", async () => {
    const tracking = await boot({ keyTypeGuard: 'off' });
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: true } });
    await tracking.track({ userId: '1', eventName: 'search', eventData: { premium: 1 } });
    expect(standIn.events()).toHaveLength(2);
    expect(logs.lines.some((l) => l.includes('eventData.premium'))).toBe(false);
  });
});

describe('KeyTypeGuard', () => {
  it('treats null as no type and arrays as their own type', () => {
    const guard = new KeyTypeGuard();
    expect(guard.check({ eventName: 'e', eventTime: 1, eventData: { a: null, b: [1] } })).toEqual([]);
    expect(guard.check({ eventName: 'e', eventTime: 1, eventData: { a: 'x', b: { c: 1 } } })).toEqual([
      expect.objectContaining({
        path: 'eventData.b',
        reason: expect.stringContaining('is a object, but "e" first sent it as a array'),
      }),
    ]);
  });

  it('remembers at most maxEntries pairs, and stops guarding new ones past that', () => {
    const guard = new KeyTypeGuard(2);
    guard.check({ eventName: 'e', eventTime: 1, eventData: { a: 1, b: 1, c: 1 } });
    const conflicts = guard.check({ eventName: 'e', eventTime: 1, eventData: { a: 'x', b: 'x', c: 'x' } });
    expect(conflicts.map((c) => c.path)).toEqual(['eventData.a', 'eventData.b']);
  });
});
