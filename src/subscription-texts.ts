// What an open subscription keeps of the request that opened it: graphql-ws keeps the subscribe message, as
// sent and as parsed, for as long as the subscription runs, and yoga an SSE request's parameters. With
// messages of up to 2 MiB, a viewer's 2,000 subscriptions (20 sockets of 100) held some 4 MB each and ended
// the process within seconds. So the texts of a viewer's open subscriptions share a limit, each document counted
// by what its parsed form keeps too.
import type { DocumentNode, Token } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import { PerViewerShares } from './per-viewer-shares.ts';
import { rateLimitedError } from './errors.ts';
import { holdWhileSubscribed } from './subscription-hold.ts';

/** The request of one operation, as yoga and graphql-ws hand it over. */
type Params = { query?: string; operationName?: string | null; variables?: unknown; extensions?: unknown };

export class SubscriptionTexts extends PerViewerShares {
  tooMuch(chars: number): Error {
    return rateLimitedError(
      `This subscription's request is ${chars} characters; with this user's open subscriptions that is more than the ${this.perViewer} allowed: close some, or send less`,
    );
  }
}

/**
 * What a token of a parsed document keeps, in characters: its node and location, some 270 bytes (a dense
 * document of 25,000 characters and 4,950 tokens kept 1.35 MB).
 */
export const CHARS_PER_TOKEN = 64;

/**
 * Holds each subscription's characters (document, variables, extensions, and its parsed document by its
 * tokens) in its viewer's share while it runs.
 */
export function useSubscriptionTexts(texts: SubscriptionTexts): Plugin {
  const tokens = new WeakMap<DocumentNode, number>(); // yoga hands the same document to each request of its text
  const tokensOf = (document: DocumentNode) => {
    let count = tokens.get(document);
    if (count === undefined) tokens.set(document, (count = tokenCount(document)));
    return count;
  };
  return {
    onSubscribe(payload) {
      const { viewer, params } = payload.args.contextValue as unknown as { viewer: Viewer; params?: Params };
      const chars = charsOf(params ?? {}) + tokensOf(payload.args.document) * CHARS_PER_TOKEN;
      return holdWhileSubscribed(payload, texts, { viewer, amount: chars, refusal: () => texts.tooMuch(chars) });
    },
  };
}

/** The tokens the parser read (its location keeps them linked); a document parsed without locations counts none. */
function tokenCount(document: DocumentNode): number {
  let count = 0;
  for (let token: Token | null | undefined = document.loc?.startToken; token; token = token.next) count++;
  return count;
}

/** One pass over what was parsed from the client's JSON (which a message's own length bounds). */
function charsOf({ query, operationName, variables, extensions }: Params): number {
  const jsonLength = (value: unknown) => (value === undefined || value === null ? 0 : JSON.stringify(value).length);
  return (query?.length ?? 0) + (operationName?.length ?? 0) + jsonLength(variables) + jsonLength(extensions);
}
