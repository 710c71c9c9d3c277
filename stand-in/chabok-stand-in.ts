/**
 * A local stand-in for Chabok's event API, used by the tests, the sample app and the
 * benchmarks. It listens on 127.0.0.1 only, behaves as ../shared/CHABOK_API.md documents,
 * records every request it receives, and can inject faults (status codes, Retry-After,
 * slow answers, connection resets, outages).
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const STAND_IN_ENDPOINTS = ['track', 'trackPurchase', 'trackRevenue'] as const;
export type StandInEndpoint = (typeof STAND_IN_ENDPOINTS)[number];

/** One request as it arrived. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Raw body text. */
  readonly raw: string;
  /** Parsed JSON body, or undefined when it was not JSON. */
  readonly body: unknown;
  /** Status the stand-in answered with (0 when the connection was reset). */
  status: number;
  readonly at: number;
}

/** An accepted event with the endpoint it arrived on. */
export interface AcceptedEvent {
  readonly endpoint: StandInEndpoint;
  readonly event: Record<string, unknown>;
  /** Whether it arrived inside an array body. */
  readonly bulk: boolean;
}

/** What a fault handler tells the stand-in to do with one request instead of the normal answer. */
export interface FaultAction {
  /** Answer with this status (and do not accept the events unless `accept` is true). */
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (or accepting). */
  delayMs?: number;
  /** Destroy the socket instead of answering. */
  reset?: boolean;
  /** Accept (record) the events, then still apply delay/status: models "accepted, but the answer came too late". */
  accept?: boolean;
}

export type FaultHandler = (request: RecordedRequest, index: number) => FaultAction | undefined;

export interface StandInOptions {
  /** The token requests must carry in X-Access-Token. Default 'test-token'. */
  accessToken?: string;
  /** Port to listen on; default 0 (ephemeral). */
  port?: number;
  /** Called for every accepted event (the sample app prints them). */
  onEvent?: (event: AcceptedEvent) => void;
  /** Keep request bodies (headers/raw) for every request; turn off for benchmarks. Default true. */
  recordRequests?: boolean;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

export class ChabokStandIn {
  readonly requests: RecordedRequest[] = [];
  readonly accepted: AcceptedEvent[] = [];
  /** Count of accepted events, also kept when recordRequests is false. */
  acceptedCount = 0;
  fault: FaultHandler | undefined;

  private server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private requestIndex = 0;
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  private constructor(private readonly options: Required<Omit<StandInOptions, 'onEvent' | 'port'>> & StandInOptions) {
    this.server = this.createServer();
  }

  static async start(options: StandInOptions = {}): Promise<ChabokStandIn> {
    const standIn = new ChabokStandIn({ accessToken: 'test-token', recordRequests: true, ...options });
    await standIn.listen(options.port ?? 0);
    return standIn;
  }

  get accessToken(): string {
    return this.options.accessToken;
  }

  /** Base URL to give ChabokModule as `baseUrl`. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  /** Accepted events of one endpoint (default: track). */
  events(endpoint: StandInEndpoint = 'track'): Record<string, unknown>[] {
    return this.accepted.filter((a) => a.endpoint === endpoint).map((a) => a.event);
  }

  /** Resolves once `predicate` holds, or rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `stand-in: condition not met within ${timeoutMs} ms (accepted ${this.acceptedCount} events, ${this.requests.length} requests)`,
          ),
        );
      }, timeoutMs);
      const waiter = { check: predicate, resolve: () => (clearTimeout(timer), resolve()) };
      this.waiters.push(waiter);
    });
  }

  /** Resolves once at least `count` events were accepted. */
  waitForEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.waitFor(() => this.acceptedCount >= count, timeoutMs);
  }

  /** Forgets everything recorded and removes the fault handler. */
  reset(): void {
    this.requests.length = 0;
    this.accepted.length = 0;
    this.acceptedCount = 0;
    this.requestIndex = 0;
    this.fault = undefined;
  }

  /** Simulates an outage: stops listening and drops open connections (the port is closed). */
  async goDown(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Ends an outage: listens again on the same port. */
  async comeBack(): Promise<void> {
    this.server = this.createServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    for (const w of this.waiters) w.resolve();
    this.waiters = [];
    if (!this.server.listening) return;
    await this.goDown();
  }

  private createServer(): Server {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.port = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      raw,
      body,
      status: 0,
      at: Date.now(),
    };
    if (this.options.recordRequests) this.requests.push(record);
    const fault = this.fault?.(record, this.requestIndex++);

    if (fault?.accept) this.accept(record);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.reset) {
      req.socket.destroy();
      return this.notify();
    }
    if (fault?.status !== undefined) {
      record.status = fault.status;
      return this.answer(res, fault.status, fault.body ?? '', fault.headers);
    }
    const [status, answer] = this.judge(record);
    record.status = status;
    if (status === 200 && !fault?.accept) this.accept(record);
    this.answer(res, status, answer);
  }

  /** The documented rules: method, path, token header, JSON body, per-event fields. */
  private judge(r: RecordedRequest): [number, string] {
    const match = /^\/api\/installations\/(\w+)$/.exec(r.path);
    const endpoint = match?.[1] as StandInEndpoint | undefined;
    if (r.method !== 'POST' || !endpoint || !STAND_IN_ENDPOINTS.includes(endpoint))
      return [404, '{"error":"not found"}'];
    if (r.headers['x-access-token'] !== this.options.accessToken) return [401, '{"error":"invalid access token"}'];
    if (!String(r.headers['content-type'] ?? '').startsWith('application/json'))
      return [415, '{"error":"expected application/json"}'];
    if (r.body === undefined || r.body === null || typeof r.body !== 'object')
      return [400, '{"error":"body must be a JSON object or array"}'];
    const events = Array.isArray(r.body) ? r.body : [r.body];
    const bad = events
      .map((e, i) => (invalidReason(endpoint, e) ? { index: i, reason: invalidReason(endpoint, e) } : undefined))
      .filter(Boolean);
    if (bad.length) return [400, JSON.stringify({ error: 'invalid events', invalid: bad })];
    return [200, '{"ok":true}'];
  }

  private accept(r: RecordedRequest): void {
    const endpoint = /\/installations\/(\w+)$/.exec(r.path)?.[1] as StandInEndpoint;
    const bulk = Array.isArray(r.body);
    const events = (bulk ? r.body : [r.body]) as Record<string, unknown>[];
    this.acceptedCount += events.length;
    for (const event of events) {
      const accepted = { endpoint, event, bulk };
      if (this.options.recordRequests) this.accepted.push(accepted);
      this.options.onEvent?.(accepted);
    }
  }

  private answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(body);
    this.notify();
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

function invalidReason(endpoint: StandInEndpoint, e: unknown): string | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) return 'event must be an object';
  const event = e as Record<string, unknown>;
  if ((typeof event.userId === 'string') === (typeof event.installationId === 'string'))
    return 'exactly one of userId or installationId';
  if (endpoint !== 'trackRevenue' && (typeof event.eventName !== 'string' || event.eventName === ''))
    return 'eventName is required';
  if (endpoint === 'trackRevenue' && 'eventName' in event) return 'trackRevenue takes no eventName';
  if (endpoint !== 'track' && typeof event.revenue !== 'number') return 'revenue is required';
  if (event.eventTime !== undefined && typeof event.eventTime !== 'number') return 'eventTime must be epoch ms';
  if (
    event.eventData !== undefined &&
    (typeof event.eventData !== 'object' || event.eventData === null || Array.isArray(event.eventData))
  )
    return 'eventData must be an object';
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
