// The console's only way to the server: Converge's public GraphQL API, queries and mutations over HTTP
// POST with the Authorization header, subscriptions over graphql-ws with the token in connection_init.
import { createClient, type Client } from 'graphql-ws';

/** An answer with errors, or no answer: `code` is the first error's extensions.code when there is one. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

type GraphQLErrorJson = { message: string; extensions?: { code?: string } };

const bearer = (token: string | null) => (token ? `Bearer ${token}` : undefined);

export class Api {
  private ws: Client | undefined;

  constructor(
    private readonly token: string | null,
    private readonly endpoint = new URL('/graphql', location.href),
  ) {}

  async request<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const authorization = bearer(this.token);
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(authorization && { authorization }),
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch {
      throw new ApiError(`The server at ${this.endpoint.host} does not answer.`, 'NETWORK');
    }
    const body = (await response.json().catch(() => null)) as { data?: T | null; errors?: GraphQLErrorJson[] } | null;
    const error = body?.errors?.[0];
    if (error) throw new ApiError(error.message, error.extensions?.code);
    if (!body?.data) throw new ApiError(`The server answered ${response.status} without data.`, undefined);
    return body.data;
  }

  /**
   * Runs a subscription until the returned function is called. graphql-ws reconnects on its own after a
   * lost connection (a server restart), and `onConnection` says whether it is connected.
   */
  subscribe<T>(
    query: string,
    handlers: { next(data: T): void; error(error: ApiError): void },
    onConnection: (connected: boolean) => void,
  ): () => void {
    this.ws ??= this.connect(onConnection);
    return this.ws.subscribe<T>(
      { query },
      {
        next: (result) => {
          const error = result.errors?.[0] as GraphQLErrorJson | undefined;
          if (error) handlers.error(new ApiError(error.message, error.extensions?.code));
          else if (result.data) handlers.next(result.data);
        },
        error: (error) => handlers.error(asApiError(error)),
        complete: () => {},
      },
    );
  }

  close(): void {
    void this.ws?.dispose();
    this.ws = undefined;
  }

  private connect(onConnection: (connected: boolean) => void): Client {
    const url = new URL(this.endpoint);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const authorization = bearer(this.token);
    return createClient({
      url: url.href,
      connectionParams: authorization ? { authorization } : {},
      retryAttempts: Number.POSITIVE_INFINITY,
      // A refused token (4403) will not be accepted on the next try either.
      shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
      on: {
        connected: () => onConnection(true),
        closed: () => onConnection(false),
      },
    });
  }
}

function asApiError(error: unknown): ApiError {
  if (error instanceof CloseEvent) return new ApiError(error.reason || `The connection closed (${error.code}).`, String(error.code));
  if (Array.isArray(error)) {
    const first = error[0] as GraphQLErrorJson | undefined;
    return new ApiError(first?.message ?? 'The subscription failed.', first?.extensions?.code);
  }
  return new ApiError(error instanceof Error ? error.message : 'The connection failed.', undefined);
}
