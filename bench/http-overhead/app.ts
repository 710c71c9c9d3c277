/**
 * The app under load for bench/http-overhead: one Nest app on Express with one route,
 * GET /item, in one of five variants (argv[2]):
 *   plain       no interceptor
 *   noop        a global interceptor that only returns next.handle()
 *   tracked     @TrackEvent() through ChabokModule (events batched to the sink)
 *   handwritten no ChabokModule; the handler posts each event itself with HttpService
 *   durable     @TrackEvent() through ChabokModule in durable mode (BullMQ on the local
 *               redis-server at BENCH_REDIS_PORT, role 'both': this app queues and delivers)
 * It answers the runner's `sample` request with its own CPU time and how many requests it
 * served, so CPU is attributed to this process and this variant only.
 */
import 'reflect-metadata';
import {
  Controller,
  Get,
  Headers,
  Injectable,
  Module,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { HttpModule, HttpService } from '@nestjs/axios';
import type { Observable } from 'rxjs';
import { ChabokModule, EventTrackingService, TrackEvent } from 'nestjs-chabok';
import { cpuMicros, ready, serve } from '../shared/ipc.js';

const variant = process.argv[2];
const SINK_URL = process.env.BENCH_SINK_URL!;
const SINK_TOKEN = process.env.BENCH_SINK_TOKEN!;
const ITEM = { id: 7, name: 'milk', price: 25000 };
let served = 0;

@Controller()
class PlainController {
  @Get('item')
  item() {
    served++;
    return ITEM;
  }
}

@Injectable()
class NoopInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

@Controller()
class TrackedController {
  @Get('item')
  @TrackEvent({ name: 'viewItem', data: { itemId: 7 } })
  item() {
    served++;
    return ITEM;
  }
}

/** The same route in durable mode; its own event name, so the sink counts it apart from (c). */
@Controller()
class DurableTrackedController {
  @Get('item')
  @TrackEvent({ name: 'viewItemDurable', data: { itemId: 7 } })
  item() {
    served++;
    return ITEM;
  }
}

/** What a user writes without the library: one un-awaited POST per event. */
@Controller()
class HandWrittenController {
  constructor(private readonly http: HttpService) {}

  @Get('item')
  item(@Headers('x-chabok-installation-id') installationId: string) {
    served++;
    this.http
      .post(
        `${SINK_URL}/installations/track`,
        { installationId, eventName: 'viewItemByHand', eventTime: Date.now(), eventData: { itemId: 7 } },
        {
          headers: { 'X-Access-Token': SINK_TOKEN },
        },
      )
      .subscribe();
    return ITEM;
  }
}

function appModule(): new () => object {
  switch (variant) {
    case 'plain': {
      @Module({ controllers: [PlainController] })
      class PlainModule {}
      return PlainModule;
    }
    case 'noop': {
      @Module({ controllers: [PlainController], providers: [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }] })
      class NoopModule {}
      return NoopModule;
    }
    case 'tracked': {
      @Module({
        // Default batching (500 events or 1 s): what a user gets without tuning.
        imports: [ChabokModule.forRoot({ baseUrl: SINK_URL, accessToken: SINK_TOKEN })],
        controllers: [TrackedController],
      })
      class TrackedModule {}
      return TrackedModule;
    }
    case 'handwritten': {
      @Module({ imports: [HttpModule], controllers: [HandWrittenController] })
      class HandWrittenModule {}
      return HandWrittenModule;
    }
    case 'durable': {
      @Module({
        // Default batching and durable options; only the Redis connection and a queue of its own.
        imports: [
          ChabokModule.forRoot({
            baseUrl: SINK_URL,
            accessToken: SINK_TOKEN,
            delivery: {
              mode: 'durable',
              connection: { host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT) },
              queueName: `bench-http-${process.pid}`,
            },
          }),
        ],
        controllers: [DurableTrackedController],
      })
      class DurableTrackedModule {}
      return DurableTrackedModule;
    }
    default:
      throw new Error(`unknown variant "${variant}"`);
  }
}

const app = await NestFactory.create(appModule(), { logger: ['error', 'warn'] });
await app.listen(0, '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
const tracking = variant === 'tracked' || variant === 'durable' ? app.get(EventTrackingService) : undefined;

serve(
  {
    sample: () => ({ cpuMicros: cpuMicros(), served, stats: tracking?.stats() }),
  },
  () => app.close(),
);
ready({ url: `http://127.0.0.1:${address.port}/item` });
