import type { ExecutionContext } from '@nestjs/common';
import type { ChabokIdentity } from '../interfaces/chabok-event.interface.js';

interface RequestLike {
  user?: { id?: unknown };
  headers?: Record<string, string | string[] | undefined>;
}

/** The HTTP request of an HTTP or GraphQL context (GraphQL puts it on the context argument). */
export function requestOf(context: ExecutionContext): RequestLike | undefined {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getRequest<RequestLike>();
  if (type === 'graphql') return (context.getArgByIndex(2) as { req?: RequestLike } | undefined)?.req;
  return undefined;
}

/**
 * The default identity: `request.user.id` as userId when an auth layer set one, else the
 * installation-id header. RPC and WebSocket contexts have no request, so they need an
 * identity resolver (module-wide or on the decorator).
 */
export function defaultIdentity(context: ExecutionContext, header: string): ChabokIdentity | undefined {
  const req = requestOf(context);
  if (!req) return undefined;
  const id = req.user?.id;
  if (typeof id === 'string' && id !== '') return { userId: id };
  if (typeof id === 'number' && Number.isSafeInteger(id)) return { userId: String(id) };
  const installationId = req.headers?.[header];
  if (typeof installationId === 'string' && installationId !== '') return { installationId };
  return undefined;
}
