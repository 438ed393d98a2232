// The client helpers' session: the newest token kept whatever order responses arrive in, sent with every
// operation, one session per client instance, stale answers reported; through the real Apollo Client link
// and urql exchange.
import { ApolloClient, ApolloLink, gql, InMemoryCache } from '@apollo/client';
import { Client, fetchExchange, type OperationResult, gql as urqlGql } from '@urql/core';
import { map, Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { sessionLink } from '@converge/client/apollo';
import { createSession, isAtOrAfter, sessionFetch, type StaleResult } from '@converge/client';
import { sessionExchange } from '@converge/client/urql';

const tokens = ['c1.a.1', 'c1.a.2', 'c1.b.1', 'c1.z.9', 'c1.10.0'];

describe('client session', () => {
  it('orders tokens by transaction id, then position', () => {
    for (let i = 0; i < tokens.length; i++) {
      for (let j = 0; j < tokens.length; j++) expect(isAtOrAfter(tokens[i]!, tokens[j]!), `${tokens[i]} >= ${tokens[j]}`).toBe(i >= j);
    }
  });

  it('keeps the newest token, whatever order they arrive in, and ignores what is not a token', () => {
    const session = createSession();
    for (const token of ['c1.b.1', 'c1.a.2', 'c1.10.0', 'c1.z.9', undefined, 42, '']) session.observe(token);
    expect(session.token).toBe('c1.10.0');
    session.reset();
    expect(session.token).toBeUndefined();
  });

  it('starts from a token given either way, and keeps the onStale it was given', () => {
    const onStale = () => {};
    expect(createSession().token).toBeUndefined();
    expect(createSession('c1.1.1').token).toBe('c1.1.1');
    expect(createSession({ token: 'c1.1.2' }).token).toBe('c1.1.2');
    expect(createSession('c1.1.3', { onStale })).toMatchObject({ token: 'c1.1.3', onStale });
    expect(createSession({ onStale })).toMatchObject({ token: undefined, onStale });
  });

  const staleAnswer = { data: { ping: 1 }, extensions: { consistency: { stale: true, token: 'c1.7.7' } } };
  const freshAnswer = { data: { ping: 2 }, extensions: { consistency: { token: 'c1.7.8' } } };
  /** An Apollo link that answers each operation with the next of these results. */
  const answering = (...results: object[]) =>
    new ApolloLink(
      () =>
        new Observable((observer) => {
          observer.next(results.shift()!);
          observer.complete();
        }),
    );

  it("Apollo Client: a stale answer goes to onStale, and every answer's extensions to the operation context", async () => {
    const stale: StaleResult[] = [];
    const session = createSession({ onStale: (result) => stale.push(result) });
    // What an application's own link before sessionLink reads once the response is through.
    const read: unknown[] = [];
    const afterware = new ApolloLink((operation, forward) =>
      forward(operation).pipe(
        map((result) => {
          read.push(operation.getContext().responseExtensions);
          return result;
        }),
      ),
    );
    const client = new ApolloClient({
      link: ApolloLink.from([afterware, sessionLink(session), answering(staleAnswer, freshAnswer)]),
      cache: new InMemoryCache(),
    });
    const query = gql`query Ping { ping }`;
    const first = await client.query({ query, fetchPolicy: 'no-cache' });
    await client.query({ query, fetchPolicy: 'no-cache' });
    expect(first.data).toEqual({ ping: 1 });
    expect(read).toEqual([staleAnswer.extensions, freshAnswer.extensions]);
    expect(stale).toEqual([staleAnswer]);
    expect(session.token).toBe('c1.7.8');
  });

  it('urql and fetch: a stale answer goes to onStale as the application receives it', async () => {
    const stale: StaleResult[] = [];
    const session = createSession('c1.1.1', { onStale: (result) => stale.push(result) });
    const answers = [staleAnswer, freshAnswer, staleAnswer];
    const fakeFetch = (async () => Response.json(answers.shift())) as typeof fetch;
    const client = new Client({
      url: 'http://localhost/graphql',
      fetch: fakeFetch,
      exchanges: [sessionExchange(session), fetchExchange],
      requestPolicy: 'network-only',
    });
    const query = urqlGql`query Ping($n: Int) { ping(n: $n) }`;
    const result = await client.query(query, { n: 1 }).toPromise();
    await client.query(query, { n: 2 }).toPromise();
    expect(stale).toHaveLength(1);
    expect((stale[0] as OperationResult).operation.variables).toEqual({ n: 1 });
    expect(stale[0]).toBe(result);

    await sessionFetch(session, fakeFetch)('http://localhost/graphql', { method: 'POST', body: JSON.stringify({ query: '{ ping }' }) });
    expect(stale).toHaveLength(2);
    expect(stale[1]).toEqual(staleAnswer);
  });

  /** A terminating transport that answers each request after `delays[n]` ms with token `tokens[n]`. */
  const outOfOrder = (delays: number[], answer: string[]) => {
    const sent: unknown[] = [];
    let n = 0;
    const respond = (extensions: unknown) => {
      const i = n++;
      sent.push(extensions);
      return { delay: delays[i]!, result: { data: { ping: i }, extensions: { consistency: { token: answer[i] } } } };
    };
    return { sent, respond };
  };

  it('Apollo Client: the link sends the token and keeps the newest across responses that arrive out of order', async () => {
    const session = createSession();
    const transport = outOfOrder([60, 10, 30], ['c1.5.5', 'c1.3.3', 'c1.4.4']);
    const terminating = new ApolloLink(
      (operation) =>
        new Observable((observer) => {
          const { delay, result } = transport.respond(operation.extensions);
          const timer = setTimeout(() => {
            observer.next(result);
            observer.complete();
          }, delay);
          return () => clearTimeout(timer);
        }),
    );
    const client = new ApolloClient({ link: ApolloLink.from([sessionLink(session), terminating]), cache: new InMemoryCache() });
    const query = gql`query Ping { ping }`;
    await Promise.all([0, 1, 2].map(() => client.query({ query, fetchPolicy: 'no-cache' })));
    expect(session.token).toBe('c1.5.5'); // the newest, though it arrived last but one
    await client.query({ query, fetchPolicy: 'no-cache' }).catch(() => undefined);
    expect(transport.sent.at(-1)).toEqual({ consistency: { after: 'c1.5.5' } });
    expect(transport.sent[0]).toEqual({}); // nothing yet to send with the first
  });

  it('urql: the exchange sends the token, keeps the newest, and two clients keep separate sessions', async () => {
    const bodies: Record<string, unknown>[] = [];
    let n = 0;
    const answers = [
      [50, 'c1.9.9'],
      [5, 'c1.2.2'],
    ] as const;
    const fakeFetch = (async (url: unknown, init?: RequestInit) => {
      // urql sends queries as GET (extensions in the URL) when they fit.
      const params = new URL(String(url)).searchParams;
      bodies.push(
        init?.body
          ? JSON.parse(String(init.body))
          : { extensions: params.has('extensions') ? JSON.parse(params.get('extensions')!) : undefined },
      );
      const [delay, token] = answers[n++ % answers.length]!;
      await new Promise((r) => setTimeout(r, delay));
      return Response.json({ data: { ping: 1 }, extensions: { consistency: { token } } });
    }) as typeof fetch;
    const make = () => {
      const session = createSession();
      const client = new Client({
        url: 'http://localhost/graphql',
        fetch: fakeFetch,
        exchanges: [sessionExchange(session), fetchExchange],
        requestPolicy: 'network-only',
      });
      return { session, client };
    };
    const a = make();
    const b = make();
    const query = urqlGql`query Ping($n: Int) { ping(n: $n) }`;
    await Promise.all([a.client.query(query, { n: 1 }).toPromise(), a.client.query(query, { n: 2 }).toPromise()]);
    expect(a.session.token).toBe('c1.9.9');
    expect(b.session.token).toBeUndefined();
    await b.client.query(query, { n: 3 }).toPromise();
    await a.client.query(query, { n: 4 }).toPromise();
    expect(bodies.at(-2)!.extensions).toBeUndefined(); // b has nothing to send yet
    expect(bodies.at(-1)!.extensions).toEqual({ consistency: { after: 'c1.9.9' } });
  });

  it('plain fetch: the helper adds the token to JSON bodies and keeps the newest', async () => {
    const seen: unknown[] = [];
    const session = createSession('c1.1.1');
    const inner = (async (_url: unknown, init?: RequestInit) => {
      seen.push(JSON.parse(String(init?.body)).extensions);
      return Response.json({ data: {}, extensions: { consistency: { token: 'c1.2.0' } } });
    }) as typeof fetch;
    const fetchWithSession = sessionFetch(session, inner);
    await fetchWithSession('http://localhost/graphql', { method: 'POST', body: JSON.stringify({ query: '{ __typename }' }) });
    expect(seen).toEqual([{ consistency: { after: 'c1.1.1' } }]);
    expect(session.token).toBe('c1.2.0');
  });

  it('forgets a session token the server refused (its database was reset), so the next operation goes without', async () => {
    const refused = {
      errors: [
        {
          message: 'x',
          extensions: {
            code: 'BAD_USER_INPUT',
            issues: [{ path: ['extensions', 'consistency', 'after'], message: 'is ahead of the event log' }],
          },
        },
      ],
    };
    const seen: unknown[] = [];
    const session = createSession('c1.zz.zz');
    const inner = (async (_url: unknown, init?: RequestInit) => {
      seen.push(JSON.parse(String(init?.body)).extensions);
      return Response.json(seen.length === 1 ? refused : { data: {}, extensions: {} });
    }) as typeof fetch;
    const fetchWithSession = sessionFetch(session, inner);
    await fetchWithSession('http://localhost/graphql', { method: 'POST', body: JSON.stringify({ query: '{ __typename }' }) });
    expect(session.token).toBeUndefined();
    await fetchWithSession('http://localhost/graphql', { method: 'POST', body: JSON.stringify({ query: '{ __typename }' }) });
    expect(seen).toEqual([{ consistency: { after: 'c1.zz.zz' } }, undefined]);

    // The same through the urql exchange (errors arrive as a CombinedError there) and the Apollo link.
    const urqlSession = createSession('c1.zz.zz');
    const urqlClient = new Client({
      url: 'http://localhost/graphql',
      fetch: (async () => Response.json(refused)) as typeof fetch,
      exchanges: [sessionExchange(urqlSession), fetchExchange],
      requestPolicy: 'network-only',
    });
    await urqlClient.query(urqlGql`query Ping { ping }`, {}).toPromise();
    expect(urqlSession.token).toBeUndefined();

    const apolloSession = createSession('c1.zz.zz');
    const terminating = new ApolloLink(
      () =>
        new Observable((observer) => {
          observer.next(refused);
          observer.complete();
        }),
    );
    const apollo = new ApolloClient({ link: ApolloLink.from([sessionLink(apolloSession), terminating]), cache: new InMemoryCache() });
    await apollo.query({ query: gql`query Ping { ping }`, fetchPolicy: 'no-cache' }).catch(() => undefined);
    expect(apolloSession.token).toBeUndefined();
  });
});
