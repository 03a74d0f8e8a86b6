// What one operation may cost, counted before it runs with the values of its variables: every field it
// may resolve, a list's fields once for each item it may return. A page size given as a variable counts as
// much as one written in the document (graphql-armor's count, checked when a document is validated, saw
// only literals: `messages(first: $n)` nested under itself cost as much as one page, and took seconds).
// Fields that return lists say how many items they may return with an `items` extension; any other field
// returns one. Linear in the document: fragments are walked where they are spread, and a document whose
// walk exceeds MAX_COUNTED_NODES is refused before it runs. Every event of a subscription runs its selection
// again: its cost is held against its viewer's share (SubscriptionCosts) for as long as it lives.
import { getOperationAST, getVariableValues, GraphQLError, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from './auth.ts';
import type { SubscriptionCosts } from './connection-limits.ts';
import { badUserInput } from './errors.ts';
import { MAX_PAGE_SIZE, type ConnectionArgs } from './pagination/connection.ts';
import { holdWhileSubscribed } from './subscription-hold.ts';
import { operationRootFields, REPLY_STREAMS } from './root-fields.ts';

/**
 * Fields one operation may resolve. The web app's chat page (50 messages with their versions, tool calls
 * and usage) counts about 1,400, its sidebar of 100 conversations about 1,900; 100 conversations with
 * 100 messages each, about 60,000, is refused. (15,000 fields of message IDs took 50–170 ms here.)
 */
export const MAX_OPERATION_COST = 25_000;

/**
 * What one subscription counts toward SUBSCRIPTION_COST_PER_USER at least, however little it selects: running
 * it for an event costs some 110–140 µs here before any field, about what 50 fields cost. Counted by its
 * fields alone, 2,000 subscriptions of `{ __typename }` fitted in the share and made each event cost 0.3 s.
 */
export const MIN_SUBSCRIPTION_COST = 50;

/** Fields, fragments and inline fragments walked to count, fragments once per spread. */
const MAX_COUNTED_NODES = 20_000;

type ItemsOf = (args: Record<string, unknown>) => number;

/** The extension of a connection field: a page of `first`, `last` or else `defaultSize` items. */
export const pageItems = (defaultSize: number) => ({
  items: ((args: ConnectionArgs) => clamp(args.first ?? args.last ?? defaultSize, MAX_PAGE_SIZE)) as ItemsOf,
});

/** The extension of a list field of at most `max` items, whatever its arguments. */
export const atMostItems = (max: number) => ({ items: (() => max) as ItemsOf });

/** The extension of a field that returns one item per ID it is given, at most `max`. */
export const itemsPerId = (max: number) => ({ items: ((args: { ids?: unknown[] }) => clamp(args.ids?.length ?? 0, max)) as ItemsOf });

// A larger page is refused by the field itself before anything below it resolves.
const clamp = (n: number, max: number) => Math.min(Math.max(n, 0), max);

const fieldCost: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const items = field.extensions?.items as ItemsOf | undefined;
  return 1 + childComplexity * (items ? items(args) : 1);
};

/** The fields an operation may resolve with these variables; throws a GraphQLError for bad variables. */
export function operationCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined, operationName?: string | null): number {
  return getComplexity({ schema, query: document, variables: variables ?? {}, operationName: operationName ?? undefined, estimators: [fieldCost], maxQueryNodes: MAX_COUNTED_NODES });
}

type OperationArgs = { schema: GraphQLSchema; document: DocumentNode; variableValues?: Record<string, unknown> | null; operationName?: string | null };

/** Counts kept per document (documents are cached by yoga): the same page asked again is not counted again. */
const KEPT_PER_DOCUMENT = 16;
/** Variables longer than this as JSON (a message's text) are counted each time rather than kept. */
const MAX_KEPT_VARIABLES = 512;

export function useOperationCost(subscriptions: SubscriptionCosts): Plugin {
  const kept = new WeakMap<DocumentNode, Map<string, number>>();
  const costOf = ({ schema, document, variableValues, operationName }: OperationArgs): number => {
    const variables = JSON.stringify(variableValues ?? {});
    if (variables.length > MAX_KEPT_VARIABLES) return operationCost(schema, document, variableValues ?? undefined, operationName);
    const key = `${operationName ?? ''} ${variables}`;
    let costs = kept.get(document);
    const known = costs?.get(key);
    if (known !== undefined) return known;
    const cost = operationCost(schema, document, variableValues ?? undefined, operationName);
    if (!costs) kept.set(document, (costs = new Map()));
    if (costs.size >= KEPT_PER_DOCUMENT) costs.delete(costs.keys().next().value!);
    costs.set(key, cost);
    return cost;
  };
  /** The operation's cost, or null when it is refused (its result is set). */
  const refuseCostly = ({ args, setResultAndStopExecution }: { args: OperationArgs; setResultAndStopExecution: (result: any) => void }): number | null => {
    let cost: number;
    try {
      cost = costOf(args);
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error;
      if (variablesRefused(args)) return null; // the executor refuses them before anything runs, in its own words
      setResultAndStopExecution({ errors: [badUserInput(error.message)] }); // a walk too long
      return null;
    }
    if (cost > MAX_OPERATION_COST) {
      setResultAndStopExecution({
        errors: [badUserInput(`This operation may resolve ${cost} fields, more than the ${MAX_OPERATION_COST} one may: ask for smaller pages or fewer fields`)],
      });
      return null;
    }
    return cost;
  };
  return {
    onExecute: (payload) => void refuseCostly(payload),
    onSubscribe(payload) {
      const cost = refuseCostly(payload);
      if (cost === null) return;
      const { viewer } = payload.args.contextValue as unknown as { viewer: Viewer };
      const share = Math.max(cost, MIN_SUBSCRIPTION_COST);
      // Unless it follows a reply alone, its events are a conversation's changes, caused by writes: counted
      // toward the viewer's requests (SubscriptionCosts.resolved). A field a directive skips counts as named.
      const fields = operationRootFields(payload.args.document, payload.args.operationName);
      const countsEvents = fields.length === 0 || !fields.every((name) => REPLY_STREAMS.has(name));
      return holdWhileSubscribed(payload, subscriptions, { viewer, amount: share, refusal: () => subscriptions.tooMuch(share), countsEvents });
    },
  };
}

function variablesRefused({ schema, document, variableValues, operationName }: OperationArgs): boolean {
  const operation = getOperationAST(document, operationName);
  return !operation || Boolean(getVariableValues(schema, operation.variableDefinitions ?? [], variableValues ?? {}).errors);
}
