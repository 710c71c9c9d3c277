import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a real auth layer (passport, a session, a JWT guard) leaves on the request. */
export interface AuthenticatedRequest extends IncomingMessage {
  user?: { id: string };
}

/**
 * Stands in for your auth: trusts an `x-user-id` header and sets `request.user = { id }`.
 * ChabokModule's default identity resolver reads `request.user.id` as the Chabok userId.
 * Never do this in a real app: anyone can send the header.
 */
@Injectable()
export class FakeAuthMiddleware implements NestMiddleware {
  use(req: AuthenticatedRequest, _res: ServerResponse, next: () => void): void {
    const id = req.headers['x-user-id'];
    if (typeof id === 'string' && id !== '') req.user = { id };
    next();
  }
}
