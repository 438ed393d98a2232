// The environment of API.md, parsed once at start. A bad value stops start-up with one line naming it.
import { z } from 'zod';

const onOff = z.enum(['on', 'off'], { message: 'must be "on" or "off"' });
const port = z.coerce.number({ message: 'must be a port number' }).int('must be a port number').min(0).max(65535);

const schema = z
  .object({
    PORT: port.default(4000),
    HOST: z.string().min(1, 'must not be empty').default('127.0.0.1'),
    DATABASE_URL: z
      .string()
      .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// or postgresql:// URL')
      .optional(),
    PGLITE_DIR: z.string().min(1, 'must not be empty').default('./.data/pglite'),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit key)').optional(),
    CONSISTENCY_TIMEOUT_MS: z.coerce
      .number({ message: 'must be a number of milliseconds' })
      .int('must be a whole number of milliseconds')
      .min(0, 'must not be negative')
      .max(600_000, 'must be at most 600000')
      .default(5000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    GRAPHIQL: onOff.optional(),
    PROJECTIONS: onOff.default('on'),
    DB_POOL_MAX: z.coerce.number({ message: 'must be a number' }).int().min(1).max(1000).default(10),
  })
  .transform((env) => ({
    port: env.PORT,
    host: env.HOST,
    database: env.DATABASE_URL
      ? ({ url: env.DATABASE_URL, poolMax: env.DB_POOL_MAX } as const)
      : ({ pgliteDir: env.PGLITE_DIR } as const),
    jwtSecret: env.JWT_SECRET,
    consistencyTimeoutMs: env.CONSISTENCY_TIMEOUT_MS,
    logLevel: env.LOG_LEVEL,
    nodeEnv: env.NODE_ENV,
    graphiql: (env.GRAPHIQL ?? (env.NODE_ENV === 'production' ? 'off' : 'on')) === 'on',
    projections: env.PROJECTIONS === 'on',
  }));

export type Config = z.output<typeof schema>;

export class ConfigError extends Error {}

// Never echoed back: a secret, or a URL that may carry a password.
const SECRET_VARIABLES = new Set(['JWT_SECRET', 'DATABASE_URL']);

/** Parses the environment; empty strings count as unset. Throws ConfigError with a one-line message. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (result.success) {
    const config = result.data;
    if (config.nodeEnv === 'production' && !config.jwtSecret) {
      throw new ConfigError('JWT_SECRET: must be set when NODE_ENV=production (open development mode is refused)');
    }
    return config;
  }
  const issue = result.error.issues[0]!;
  const name = String(issue.path[0] ?? 'environment');
  const value = present[name];
  throw new ConfigError(`${name}: ${issue.message}${value !== undefined && !SECRET_VARIABLES.has(name) ? ` (got ${JSON.stringify(value)})` : ''}`);
}
