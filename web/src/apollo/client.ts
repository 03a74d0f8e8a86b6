// The Apollo client: queries and mutations over HTTP, subscriptions over graphql-ws on the same path,
// both with the viewer's token. The socket reconnects by itself, for ever, with back-off.
import { ApolloClient, ApolloLink, HttpLink } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { isSubscriptionOperation } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import { readToken } from '../auth';
import { createCache } from './type-policies';

const GRAPHQL_PATH = '/graphql';

export type Connection = { client: ApolloClient; socket: Client };

export function createConnection(): Connection {
  const authorization = () => {
    const token = readToken();
    return token ? { authorization: `Bearer ${token}` } : {};
  };
  const socketUrl = new URL(GRAPHQL_PATH, window.location.href);
  socketUrl.protocol = socketUrl.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = createClient({
    url: socketUrl.href,
    connectionParams: authorization,
    lazy: true,
    retryAttempts: Infinity,
    // A closed socket is retried whatever the reason (a restart, a network change), except a refused token.
    shouldRetry: (event) => !(event && typeof event === 'object' && 'code' in event && event.code === 4403),
  });
  const http = new SetContextLink(({ headers }) => ({ headers: { ...headers, ...authorization() } })).concat(new HttpLink({ uri: GRAPHQL_PATH }));
  const link = ApolloLink.split(({ query }) => isSubscriptionOperation(query), new GraphQLWsLink(socket), http);
  const client = new ApolloClient({ link, cache: createCache() });
  // Events missed while the socket was down are not replayed: after a reconnection, what is shown is read again.
  socket.on('connected', (_socket, _payload, wasRetry) => {
    if (wasRetry) void client.refetchQueries({ include: 'active' });
  });
  return { client, socket };
}
