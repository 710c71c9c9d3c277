/**
 * The README's quick start, verbatim (both files in one), so `npm test` fails if it stops
 * compiling against the built package. test/e2e/sample-app.e2e-spec.ts runs the same shape.
 */
import { Body, Controller, Module, Post } from '@nestjs/common';
import { ChabokModule, EventTrackingService, TrackEvent } from 'nestjs-chabok';

@Controller('cart')
export class CartController {
  constructor(private readonly tracking: EventTrackingService) {}

  @Post('items') // every successful call becomes an "addToCart" event
  @TrackEvent({ name: 'addToCart', data: (ctx, args, item) => ({ productId: item.productId }) })
  add(@Body() body: { productId: number }) {
    return { productId: body.productId, added: true };
  }

  @Post('checkout') // or track from code; not awaiting is fine
  checkout(@Body() body: { userId: string; total: number }) {
    void this.tracking.trackPurchase({ userId: body.userId, eventName: 'checkout', revenue: body.total, currency: 'RIAL' });
    return { ok: true };
  }
}

@Module({
  imports: [ChabokModule.forRoot({ appId: process.env.CHABOK_APP_ID, accessToken: process.env.CHABOK_ACCESS_TOKEN })],
  controllers: [CartController],
})
export class AppModule {}
