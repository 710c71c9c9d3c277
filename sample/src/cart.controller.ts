import { BadRequestException, Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { TrackEvent } from 'nestjs-chabok';
import type { AuthenticatedRequest } from './fake-auth.middleware.js';

export interface CartItem {
  productId: number;
  quantity: number;
  /** Items in this user's cart after the add. */
  cartSize: number;
}

@Controller('cart')
export class CartController {
  private readonly carts = new Map<string, number>();

  /** Event "addToCart" with data built from what the handler returned. */
  @Post('items')
  @HttpCode(201)
  @TrackEvent<CartItem>({
    name: 'addToCart',
    data: (_ctx, _args, result) => ({ productId: result.productId, quantity: result.quantity }),
  })
  addItem(@Req() req: AuthenticatedRequest, @Body() body: { productId?: unknown; quantity?: unknown }): CartItem {
    const productId = Number(body?.productId);
    const quantity = Number(body?.quantity ?? 1);
    if (!Number.isSafeInteger(productId) || !Number.isSafeInteger(quantity) || quantity < 1) {
      throw new BadRequestException('productId and quantity must be positive integers');
    }
    const owner = req.user?.id ?? 'anonymous';
    const cartSize = (this.carts.get(owner) ?? 0) + quantity;
    this.carts.set(owner, cartSize);
    return { productId, quantity, cartSize };
  }
}
