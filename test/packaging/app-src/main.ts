// A user's app, shared by the three fixture apps (run.mjs copies it into each one's src/):
// in the CommonJS apps TypeScript compiles these imports to require() calls (their
// package.json has no "type"); in the ESM app they stay ES imports. `nestjs-chabok` is
// installed from the packed tarball in each.
import 'reflect-metadata';
import { Body, Controller, Headers, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChabokModule, EventTrackingService, TrackEvent, type ChabokStats } from 'nestjs-chabok';
import { ChabokRecorder, type RecordedEvent } from 'nestjs-chabok/testing';

interface AddItem {
  productId: number;
}

@Controller('cart')
class CartController {
  constructor(private readonly tracking: EventTrackingService) {}

  // The identity comes from the default resolver: the x-chabok-installation-id header.
  @Post('items')
  @TrackEvent({ name: 'addToCart', data: (_ctx, _args, added: AddItem) => ({ productId: added.productId }) })
  add(@Body() body: AddItem): AddItem {
    return { productId: body.productId };
  }

  @Post('checkout')
  checkout(@Headers('x-user-id') userId: string): { stats: ChabokStats } {
    void this.tracking.track({ userId, eventName: 'checkout', eventData: { items: 1 } });
    return { stats: this.tracking.stats() };
  }
}

@Module({
  imports: [
    ChabokModule.forRoot({
      baseUrl: process.env.CHABOK_BASE_URL,
      accessToken: process.env.CHABOK_ACCESS_TOKEN,
      flushIntervalMs: 10,
      retryBaseDelayMs: 10,
    }),
  ],
  controllers: [CartController],
})
class AppModule {}

// The testing kit's types and classes resolve through the same condition (require or import).
function describeRecorded(recorded: RecordedEvent): string {
  return `${recorded.endpoint}:${recorded.event.eventName ?? ''}`;
}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn', 'log'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const testingKit = typeof ChabokRecorder === 'function' ? describeRecorded.name : 'missing';
  console.log(`READY port=${port} module=${typeof module === 'object' ? 'commonjs' : 'esm'} testing=${testingKit}`);
}

void bootstrap();
