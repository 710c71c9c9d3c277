import { Controller, Get, NotFoundException, Param, ParseIntPipe } from '@nestjs/common';
import { TrackEvent } from 'nestjs-chabok';

export interface Product {
  id: number;
  name: string;
  price: number;
}

export const PRODUCTS: readonly Product[] = [
  { id: 12345, name: 'milk', price: 85_000 },
  { id: 777, name: 'bread', price: 40_000 },
];

@Controller('products')
export class ProductsController {
  /** Event "viewProduct" with the product id taken from the route parameter. */
  @Get(':id')
  @TrackEvent({
    name: 'viewProduct',
    data: (ctx) => ({ productId: Number(ctx.switchToHttp().getRequest<{ params: { id: string } }>().params.id) }),
  })
  findOne(@Param('id', ParseIntPipe) id: number): Product {
    const product = PRODUCTS.find((p) => p.id === id);
    // A handler that throws produces no event.
    if (!product) throw new NotFoundException(`No product ${id}`);
    return product;
  }
}
