// The environment (README, Configuration), parsed once at start. A bad value stops start-up with one line naming it.
import { z } from 'zod';
import type { TracingConfig } from './infra/observability/tracing.ts';

const onOff = z.enum(['on', 'off'], { message: 'must be "on" or "off"' });
const oneOf = <T extends string>(values: readonly [T, ...T[]]) => z.enum(values, { message: `must be one of ${values.join(', ')}` });

/** A whole number in [min, max], written in plain decimal digits (no "0x10", "1e3" or blanks). */
const wholeNumber = (min: number, max: number, what = 'a whole number') =>
  z
    .string()
    .regex(/^\d+$/, `must be ${what} from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().min(min, `must be ${what} from ${min} to ${max}`).max(max, `must be ${what} from ${min} to ${max}`));

const httpUrl = z
  .string()
  .refine((v) => /^https?:\/\/[^\s]+$/.test(v), 'must be an http:// or https:// URL (an OTLP/HTTP receiver, port 4318)');
const otlpProtocol = z
  .enum(['http/protobuf', 'http/json', 'grpc'], { message: 'must be http/protobuf or http/json' })
  .refine(
    (v) => v !== 'grpc',
    'grpc is not built in: use http/protobuf (an OTLP collector listens for it on port 4318)',
  ) as unknown as z.ZodType<'http/protobuf' | 'http/json'>;

const schema = z
  .object({
    PORT: wholeNumber(0, 65535, 'a port number').default(4000),
    HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
    DATABASE_URL: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
      .optional(),
    PGLITE_DIR: z.string().trim().min(1, 'must not be empty').default('./.data/pglite'),
    DATA_KEY_SECRET: z.string().min(32, 'must be at least 32 characters (it wraps every data key: make it random)').optional(),
    DATA_KEY_SECRET_PREVIOUS: z.string().min(32, 'must be at least 32 characters').optional(),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit key)').optional(),
    JWT_JWKS_URL: z
      .string()
      .refine((v) => /^https?:\/\//.test(v), "must be an http:// or https:// URL (the OIDC provider's jwks_uri)")
      .optional(),
    JWT_ISSUER: z.string().trim().min(1, 'must not be empty').optional(),
    JWT_AUDIENCE: z.string().trim().min(1, 'must not be empty').optional(),
    TENANCY: oneOf(['single', 'multi']).default('single'),
    TENANT_COMMANDS_PER_SECOND: wholeNumber(1, 1_000_000).optional(),
    CONSISTENCY_TIMEOUT_MS: wholeNumber(0, 600_000, 'a number of milliseconds').default(5000),
    CONSISTENCY_MAX_WAITS: wholeNumber(0, 1_000_000).default(1000),
    LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    NODE_ENV: oneOf(['development', 'production', 'test']).default('development'),
    GRAPHIQL: onOff.optional(),
    CONSOLE: onOff.optional(),
    PROJECTIONS: onOff.default('on'),
    DB_POOL_MAX: wholeNumber(1, 1000).default(10),
    METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    DATABASE_REPLICA_URLS: z
      .string()
      .transform((v) => v.split(',').map((url) => url.trim()))
      .refine((urls) => urls.every((url) => /^postgres(ql)?:\/\//.test(url)), 'must be comma-separated postgres:// or postgresql:// URLs')
      .optional(),
    REPLICA_MAX_LAG_MS: wholeNumber(1, 3_600_000, 'a number of milliseconds').default(5000),
    REPLICA_WAIT_MS: wholeNumber(0, 60_000, 'a number of milliseconds').default(50),
    NATS_URL: z
      .string()
      .transform((v) => v.split(',').map((url) => url.trim()))
      .refine(
        (urls) => urls.every((url) => /^(nats|tls):\/\/[^\s/]+\/?$/.test(url)),
        'must be nats:// or tls:// URLs (comma-separated), such as nats://127.0.0.1:4222',
      )
      .optional(),
    // OpenTelemetry's own variables (README, Tracing): on when an exporter or an OTLP endpoint is named.
    OTEL_SDK_DISABLED: z.enum(['true', 'false'], { message: 'must be "true" or "false"' }).optional(),
    OTEL_TRACES_EXPORTER: z
      .string()
      .transform((v) => v.split(',').map((e) => e.trim()))
      .refine((list) => list.every((e) => ['otlp', 'console', 'none'].includes(e)), 'must be otlp, console or none (comma-separated)')
      .optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
    OTEL_SERVICE_NAME: z.string().trim().min(1, 'must not be empty').default('converge'),
  })
  .transform((env) => ({
    port: env.PORT,
    host: env.HOST,
    database: env.DATABASE_URL ? ({ url: env.DATABASE_URL, poolMax: env.DB_POOL_MAX } as const) : ({ pgliteDir: env.PGLITE_DIR } as const),
    jwtSecret: env.JWT_SECRET,
    /** The master key's secret (generated into PGLITE_DIR in development) and, during a rotation, the one before. */
    dataKeys: { secret: env.DATA_KEY_SECRET, previous: env.DATA_KEY_SECRET_PREVIOUS },
    auth: {
      tenancy: env.TENANCY,
      secret: env.JWT_SECRET,
      jwksUrl: env.JWT_JWKS_URL,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    },
    tenancy: env.TENANCY,
    tenantCommandsPerSecond: env.TENANT_COMMANDS_PER_SECOND,
    consistencyTimeoutMs: env.CONSISTENCY_TIMEOUT_MS,
    consistencyMaxWaits: env.CONSISTENCY_MAX_WAITS,
    logLevel: env.LOG_LEVEL,
    nodeEnv: env.NODE_ENV,
    graphiql: (env.GRAPHIQL ?? (env.NODE_ENV === 'production' ? 'off' : 'on')) === 'on',
    console: (env.CONSOLE ?? (env.NODE_ENV === 'production' ? 'off' : 'on')) === 'on',
    projections: env.PROJECTIONS === 'on',
    metricsToken: env.METRICS_TOKEN,
    replicas: { urls: env.DATABASE_REPLICA_URLS ?? [], maxLagMs: env.REPLICA_MAX_LAG_MS, waitMs: env.REPLICA_WAIT_MS },
    /** Integration events and inbound payments on NATS JetStream; off when unset. */
    nats: env.NATS_URL ? { servers: env.NATS_URL } : undefined,
    /** OpenTelemetry traces; off (undefined) unless OTEL_TRACES_EXPORTER or an OTLP endpoint turns them on. */
    tracing: tracingConfig(env),
  }));

/** Tracing on when OTEL_TRACES_EXPORTER names an exporter, or (unset) when an OTLP endpoint is given. */
function tracingConfig(env: {
  OTEL_SDK_DISABLED?: string;
  OTEL_TRACES_EXPORTER?: string[];
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_PROTOCOL?: 'http/protobuf' | 'http/json';
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: 'http/protobuf' | 'http/json';
  OTEL_SERVICE_NAME: string;
}): TracingConfig | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const named = env.OTEL_TRACES_EXPORTER ?? (endpoint ? ['otlp'] : []);
  const exporters = [...new Set(named.filter((e): e is 'otlp' | 'console' => e !== 'none'))];
  if (env.OTEL_SDK_DISABLED === 'true' || exporters.length === 0) return undefined;
  return {
    exporters,
    protocol: env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
    // The signal's own endpoint is used as it is; the general one gets the traces path (the OTLP spec's rule).
    url:
      env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
      `${(env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`,
    serviceName: env.OTEL_SERVICE_NAME,
  };
}

export type Config = z.output<typeof schema>;

export class ConfigError extends Error {}

// Never echoed back: a secret, or a URL that may carry a password.
const SECRET_VARIABLES = new Set([
  'DATA_KEY_SECRET',
  'DATA_KEY_SECRET_PREVIOUS',
  'JWT_SECRET',
  'DATABASE_URL',
  'DATABASE_REPLICA_URLS',
  'METRICS_TOKEN',
  'NATS_URL',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
]);

/** Parses the environment; empty strings count as unset. Throws ConfigError with a one-line message. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (result.success) {
    const config = result.data;
    if (config.nodeEnv === 'production' && !config.jwtSecret && !config.auth.jwksUrl) {
      throw new ConfigError('JWT_SECRET: it or JWT_JWKS_URL must be set when NODE_ENV=production (open development mode is refused)');
    }
    if (!config.dataKeys.secret && (config.nodeEnv === 'production' || 'url' in config.database)) {
      throw new ConfigError(
        `DATA_KEY_SECRET: must be set ${config.nodeEnv === 'production' ? 'when NODE_ENV=production' : 'with DATABASE_URL'} (32 characters or more, e.g. openssl rand -base64 32; it wraps the keys of personal data)`,
      );
    }
    if (config.replicas.urls.length > 0 && !('url' in config.database)) {
      throw new ConfigError(
        'DATABASE_REPLICA_URLS: needs DATABASE_URL (replicas are PostgreSQL streaming replicas; the embedded PGlite has none)',
      );
    }
    return config;
  }
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  const value = present[name];
  throw new ConfigError(
    `${name}: ${issue.message}${value !== undefined && !SECRET_VARIABLES.has(name) ? ` (got ${JSON.stringify(value)})` : ''}`,
  );
}
