import {
  BadRequestException,
  Body,
  Controller,
  HttpCode,
  Logger,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { EventTrackingService } from 'nestjs-chabok';
import type { AuthenticatedRequest } from './fake-auth.middleware.js';

export interface Order {
  orderId: string;
  revenue: number;
  currency: 'RIAL';
  /** Whether Chabok accepted the checkout event before we answered. */
  tracked: boolean;
}

@Controller('orders')
export class OrdersController {
  private readonly logger = new Logger(OrdersController.name);
  private nextOrder = 1;

  constructor(private readonly tracking: EventTrackingService) {}

  /** Tracks the purchase by hand, with the service, and waits until Chabok accepted it. */
  @Post()
  @HttpCode(201)
  async checkout(@Req() req: AuthenticatedRequest, @Body() body: { revenue?: unknown }): Promise<Order> {
    const userId = req.user?.id;
    if (!userId) throw new UnauthorizedException('Send an x-user-id header');
    const revenue = Number(body?.revenue);
    if (!Number.isFinite(revenue) || revenue <= 0) throw new BadRequestException('revenue must be a positive number');
    const orderId = `order-${this.nextOrder++}`;

    // Awaiting is optional: the promise resolves once Chabok accepted the event (it is sent
    // with the next batch, within flushIntervalMs). Not awaiting it is safe too.
    let tracked = false;
    try {
      await this.tracking.trackPurchase({
        userId,
        eventName: 'checkout',
        revenue,
        currency: 'RIAL',
        eventData: { orderId },
      });
      tracked = true;
    } catch (error) {
      // The order itself succeeded; a tracking failure must not fail it.
      this.logger.warn(`checkout of ${orderId} not tracked: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { orderId, revenue, currency: 'RIAL', tracked };
  }
}
