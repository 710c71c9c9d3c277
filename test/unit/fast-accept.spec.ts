/**
 * The fast path (certainlyValid) restates the DTOs' rules for speed. It may send a valid
 * event the slow way, but it must never accept what the DTOs refuse: this differential
 * test throws thousands of generated events, built from each field's edge values, at both.
 */
import { EVENT_DATA_LIMITS, EVENT_FIELD_LIMITS, type ChabokEndpoint } from '../../src/index.js';
import { prepareDto, validateDto } from '../../src/validation/build-wire-event.js';
import { certainlyValid } from '../../src/validation/fast-accept.js';

/** A small deterministic PRNG, so a failure reproduces. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ABSENT = Symbol('absent');
const ids = [
  ABSENT,
  'u1',
  '',
  ' ',
  'x'.repeat(EVENT_FIELD_LIMITS.maxIdLength),
  'x'.repeat(EVENT_FIELD_LIMITS.maxIdLength + 1),
  42,
  4.2,
  -1,
  null,
  true,
  {},
  ['a'],
];
const names = [
  ABSENT,
  'addToCart',
  '',
  ' lead',
  'trail ',
  'a\nb',
  'a\u007f',
  'n'.repeat(EVENT_FIELD_LIMITS.maxEventNameLength),
  'n'.repeat(EVENT_FIELD_LIMITS.maxEventNameLength + 1),
  'خرید',
  7,
  null,
];
const times = [
  ABSENT,
  Date.UTC(2024, 0, 1),
  Date.UTC(2000, 0, 1),
  Date.UTC(2000, 0, 1) - 1,
  1_700_000_000,
  1.5e12 + 0.5,
  NaN,
  Infinity,
  -1,
  '2024-01-01',
  null,
  new Date(Date.UTC(2024, 0, 1)),
  new Date('nope'),
];
const nested = (depth: number): Record<string, unknown> => (depth === 0 ? { leaf: 1 } : { next: nested(depth - 1) });
const circular: Record<string, unknown> = { a: 1 };
circular.self = circular;
const datas = [
  ABSENT,
  {},
  { productId: 7, name: 'milk', tags: ['a', 'b'], ok: true, none: null },
  { at: new Date(0) },
  { bad: NaN },
  { f: () => 1 },
  { u: undefined },
  { big: 10n },
  { s: Symbol('s') },
  [],
  'str',
  null,
  new Map(),
  circular,
  nested(EVENT_DATA_LIMITS.maxDepth),
  nested(EVENT_DATA_LIMITS.maxDepth + 1),
  { blob: 'x'.repeat(EVENT_DATA_LIMITS.maxBytes) },
  Object.fromEntries(Array.from({ length: EVENT_DATA_LIMITS.maxKeys + 1 }, (_, i) => [`k${i}`, i])),
];
const revenues = [ABSENT, 0, 120000, 0.5, -1, NaN, Infinity, '10', null];
const currencies = [
  ABSENT,
  'RIAL',
  '',
  'C'.repeat(EVENT_FIELD_LIMITS.maxCurrencyLength),
  'C'.repeat(EVENT_FIELD_LIMITS.maxCurrencyLength + 1),
  5,
  null,
];
const extras = [ABSENT, ABSENT, ABSENT, ['extra', 1], ['identity', 'x'], ['eventName', 'n'], ['revenue', 1]];

const ENDPOINTS: ChabokEndpoint[] = [
  'installations/track',
  'installations/trackPurchase',
  'installations/trackRevenue',
];

function generate(random: () => number): Record<string, unknown> {
  // Each field is usually a good value and sometimes an edge one, so that both verdicts are
  // common and every edge value meets otherwise valid events.
  const pick = <T>(pool: readonly T[]) => (random() < 0.75 ? pool[1]! : pool[Math.floor(random() * pool.length)]!);
  const event: Record<string, unknown> = {};
  const set = (key: string, value: unknown) => value !== ABSENT && (event[key] = value);
  // Bias towards a single identity, so that many generated events are otherwise valid.
  if (random() < 0.5) set('userId', pick(ids));
  else set('installationId', pick(ids));
  if (random() < 0.1) set(random() < 0.5 ? 'userId' : 'installationId', pick(ids));
  if (random() < 0.8) set('eventName', pick(names));
  set('eventTime', pick(times));
  set('eventData', pick(datas));
  set('revenue', pick(revenues));
  set('currency', pick(currencies));
  const extra = pick(extras);
  if (extra !== ABSENT) event[(extra as [string, unknown])[0]] = (extra as [string, unknown])[1];
  return event;
}

describe('fast path vs the DTOs (class-validator)', () => {
  it('never accepts an event the DTOs refuse, over 20,000 generated events', () => {
    const random = mulberry32(20261203);
    let fastAccepted = 0;
    let dtoAccepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const endpoint = ENDPOINTS[i % ENDPOINTS.length]!;
      const input = generate(random);
      const dto = prepareDto(endpoint, input);
      const violations = validateDto(prepareDto(endpoint, input));
      if (violations.length === 0) dtoAccepted++;
      if (certainlyValid(endpoint, dto)) {
        fastAccepted++;
        if (violations.length > 0) {
          throw new Error(
            `fast path accepted an event the DTO refuses (${endpoint}): ${String(JSON.stringify(input))} -> ${JSON.stringify(violations)}`,
          );
        }
      }
    }
    // The generator must reach both verdicts often, or the test proves nothing.
    expect(dtoAccepted).toBeGreaterThan(200);
    expect(fastAccepted).toBeGreaterThan(200);
    expect(fastAccepted).toBeLessThanOrEqual(dtoAccepted);
  });

  it('takes the fast path for ordinary valid events of every endpoint', () => {
    const ordinary = {
      userId: '42',
      eventName: 'checkout',
      eventTime: Date.UTC(2024, 0, 1),
      eventData: { productId: 7, at: new Date(0) },
      revenue: 1000,
      currency: 'RIAL',
    };
    expect(
      certainlyValid(
        'installations/track',
        prepareDto('installations/track', { userId: 42, eventName: 'addToCart', eventData: { productId: 7 } }),
      ),
    ).toBe(true);
    expect(certainlyValid('installations/trackPurchase', prepareDto('installations/trackPurchase', ordinary))).toBe(
      true,
    );
    const { eventName: _eventName, ...revenue } = ordinary;
    expect(
      certainlyValid(
        'installations/trackRevenue',
        prepareDto('installations/trackRevenue', { ...revenue, installationId: 'dev-1', userId: undefined }),
      ),
    ).toBe(true);
  });
});
