// The cache and its type policies: which lists page how.
import { InMemoryCache } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';

export function createCache(): InMemoryCache {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          // One list per filter (a search); pages appended as the sidebar scrolls.
          conversations: relayStylePagination(['filter', 'orderBy']),
          conversation: { read: (_, { args, toReference }) => toReference({ __typename: 'Conversation', id: args?.id }) },
        },
      },
      // The branch shown, one list whatever page size was asked for; older pages prepended.
      Conversation: { fields: { messages: relayStylePagination(['leafId', 'roles']) } },
    },
  });
}
