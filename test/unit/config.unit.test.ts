import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

const KEY = 'k'.repeat(32);

describe('config', () => {
  it('has the documented defaults (README, Configuration)', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 4000,
      host: '127.0.0.1',
      database: { pgliteDir: './.data/pglite' },
      consistencyTimeoutMs: 5000,
      logLevel: 'info',
      graphiql: true,
      console: true,
      projections: true,
    });
  });

  it('turns integration events on with NATS_URL (one server or several), off without it', () => {
    expect(loadConfig({}).nats).toBeUndefined();
    expect(loadConfig({ NATS_URL: 'nats://127.0.0.1:4222, nats://u:p@n2:4222' }).nats).toEqual({
      servers: ['nats://127.0.0.1:4222', 'nats://u:p@n2:4222'],
    });
  });

  it('turns tracing on with an OTLP endpoint or a named exporter, off without (README, Tracing)', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      exporters: ['otlp'],
      protocol: 'http/protobuf',
      url: 'http://collector:4318/v1/traces',
      serviceName: 'converge',
    });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: 'otlp' }).tracing?.url).toBe('http://localhost:4318/v1/traces');
    expect(
      loadConfig({
        OTEL_TRACES_EXPORTER: 'otlp,console',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo/otlp/v1/traces',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_SERVICE_NAME: 'converge-api',
      }).tracing,
    ).toEqual({ exporters: ['otlp', 'console'], protocol: 'http/json', url: 'https://tempo/otlp/v1/traces', serviceName: 'converge-api' });
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow('OTEL_TRACES_EXPORTER: must be otlp, console or none');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not built in/);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: must be an http/);
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@h/db', DATA_KEY_SECRET: KEY }).database).toMatchObject({ url: 'postgres://u@h/db' });
  });

  it('needs DATA_KEY_SECRET with DATABASE_URL and in production, never with PGlite in development', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@h/db' })).toThrow(/^DATA_KEY_SECRET: must be set with DATABASE_URL/);
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })).toThrow(
      /^DATA_KEY_SECRET: must be set when NODE_ENV=production/,
    );
    expect(loadConfig({}).dataKeys).toEqual({ secret: undefined, previous: undefined });
    expect(loadConfig({ DATA_KEY_SECRET: KEY, DATA_KEY_SECRET_PREVIOUS: `${KEY}-old` }).dataKeys).toEqual({
      secret: KEY,
      previous: `${KEY}-old`,
    });
    expect(() => loadConfig({ DATA_KEY_SECRET: 'short-data-secret' })).toThrow(/^DATA_KEY_SECRET: must be at least 32 (?!.*short-data)/);
  });

  it('turns GraphiQL off under production, unless asked', () => {
    const secret = 'x'.repeat(32);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, DATA_KEY_SECRET: KEY }).graphiql).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, DATA_KEY_SECRET: KEY, GRAPHIQL: 'on' }).graphiql).toBe(true);
  });

  it('turns the console off under production, unless asked', () => {
    const secret = 'x'.repeat(32);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, DATA_KEY_SECRET: KEY }).console).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret, DATA_KEY_SECRET: KEY, CONSOLE: 'on' }).console).toBe(true);
    expect(loadConfig({ CONSOLE: 'off' }).console).toBe(false);
  });

  it('refuses a bad value with one line naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'abc' }, /^PORT: /],
      [{ PORT: '70000' }, /^PORT: must be a port number from 0 to 65535/],
      [{ PORT: ' ' }, /^PORT: /],
      [{ PORT: '0x10' }, /^PORT: /],
      [{ PORT: '1e3' }, /^PORT: /],
      [{ DB_POOL_MAX: '0' }, /^DB_POOL_MAX: must be a whole number from 1 to 1000/],
      [{ DB_POOL_MAX: '1.5' }, /^DB_POOL_MAX: /],
      [{ NODE_ENV: 'staging' }, /^NODE_ENV: must be one of development, production, test/],
      [{ CONSISTENCY_TIMEOUT_MS: '-1' }, /^CONSISTENCY_TIMEOUT_MS: /],
      [{ PROJECTIONS: 'maybe' }, /^PROJECTIONS: must be "on" or "off"/],
      [{ GRAPHIQL: 'yes' }, /^GRAPHIQL: /],
      [{ CONSOLE: 'true' }, /^CONSOLE: must be "on" or "off"/],
      [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: /],
      [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL: /],
      [{ NODE_ENV: 'production' }, /^JWT_SECRET: it or JWT_JWKS_URL must be set when NODE_ENV=production/],
      [{ DATABASE_REPLICA_URLS: 'postgres://r/db' }, /^DATABASE_REPLICA_URLS: needs DATABASE_URL .*PGlite/],
      [
        { DATABASE_URL: 'postgres://p/db', DATA_KEY_SECRET: KEY, DATABASE_REPLICA_URLS: 'postgres://r/db,replica2' },
        /^DATABASE_REPLICA_URLS: must be comma-separated postgres:\/\//,
      ],
      [{ REPLICA_MAX_LAG_MS: '0' }, /^REPLICA_MAX_LAG_MS: /],
      [{ REPLICA_WAIT_MS: 'soon' }, /^REPLICA_WAIT_MS: /],
      [{ TENANCY: 'many' }, /^TENANCY: must be one of single, multi/],
      [{ TENANT_COMMANDS_PER_SECOND: '0' }, /^TENANT_COMMANDS_PER_SECOND: must be a whole number from 1/],
      [{ JWT_JWKS_URL: 'keys.json' }, /^JWT_JWKS_URL: must be an http/],
      [{ NATS_URL: 'http://127.0.0.1:4222' }, /^NATS_URL: must be nats:\/\/ or tls:\/\/ URLs/],
    ];
    for (const [env, message] of cases) {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('never echoes a secret or a database URL back', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short-secret' })).toThrow(/^JWT_SECRET: (?!.*short-secret)/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://user:pw@h/db' })).toThrow(/^DATABASE_URL: (?!.*pw)/);
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://p/db', DATA_KEY_SECRET: KEY, DATABASE_REPLICA_URLS: 'postgres://u:pw@r/db,x' }),
    ).toThrow(/^DATABASE_REPLICA_URLS: (?!.*pw)/);
  });

  it('reads the replicas, with their bounds', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://p/db',
      DATA_KEY_SECRET: KEY,
      DATABASE_REPLICA_URLS: 'postgres://r1/db, postgresql://r2/db',
      REPLICA_MAX_LAG_MS: '2000',
    });
    expect(c.replicas).toEqual({ urls: ['postgres://r1/db', 'postgresql://r2/db'], maxLagMs: 2000, waitMs: 50 });
    expect(loadConfig({}).replicas.urls).toEqual([]);
  });
});
