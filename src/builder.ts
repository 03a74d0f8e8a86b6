// The Pothos schema builder: plugins, scalars and the Context type. Domain types live in schema/.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import type PrismaTypes from './generated/pothos-types.ts';
import { getDatamodel } from './generated/pothos-types.ts';
import type { Context } from './context.ts';
import { decodeGlobalId } from './global-ids.ts';
import { invalidField } from './errors.ts';
import { itemsPerId } from './operation-cost.ts';
import type { Total } from './pagination/connection.ts';
import { countRows } from './schema/costly.ts';
import { prismaForNodes } from './stored-values.ts';

/** nodes(ids:) at once: a page's worth, as connections have. */
const MAX_NODE_IDS = 100;

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  DefaultFieldNullability: false;
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
  Scalars: {
    ID: { Input: string; Output: string | number };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  // Counting is a query of its own: connections hand over a function, called only when totalCount is asked for.
  Connection: { totalCount: Total };
}>({
  defaultFieldNullability: false,
  plugins: [PrismaPlugin, RelayPlugin],
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false, description: 'The items of this page, each with its cursor.' },
    nodeFieldOptions: { nullable: false, description: 'The item.' },
    cursorFieldOptions: { description: "The item's place in the list: pass it as after or before to page from it." },
    pageInfoFieldOptions: { description: 'Where this page sits in the list.' },
    hasNextPageFieldOptions: { description: 'More items follow this page (in the direction of first/after).' },
    hasPreviousPageFieldOptions: { description: 'More items precede this page (in the direction of last/before).' },
    startCursorFieldOptions: { description: "The first item's cursor; null on an empty page." },
    endCursorFieldOptions: { description: "The last item's cursor; null on an empty page." },
    firstArgOptions: { description: 'At most this many items from the start (or from after), 0 to 100; not with last.' },
    lastArgOptions: { description: 'At most this many items from the end (or from before), 0 to 100; not with first.' },
    afterArgOptions: { description: 'Items after the one with this cursor.' },
    beforeArgOptions: { description: 'Items before the one with this cursor.' },
    pageInfoTypeOptions: { description: 'Where a page sits in its list (Relay cursor connections).' },
    nodeTypeOptions: { description: 'An object with a global ID: fetch any of them again with node(id:).' },
    idFieldOptions: { description: 'Its global ID: opaque, stable, and unique across types.' },
    defaultConnectionTypeOptions: { description: 'A page of a list, in the list\'s order (a Relay cursor connection).' },
    defaultEdgeTypeOptions: { description: 'An item of a page, with its cursor.' },
    nodeQueryOptions: {
      description: 'The object of this global ID, if the viewer may see it.',
      args: { id: { description: 'A global ID of any type of this API.' } },
    },
    decodeGlobalID: decodeGlobalId,
    nodesQueryOptions: {
      args: { ids: { description: `Global IDs of any types of this API, at most ${MAX_NODE_IDS}.` } },
      description: `The nodes of these IDs, in order (null for one not found); at most ${MAX_NODE_IDS} IDs.`,
      extensions: itemsPerId(MAX_NODE_IDS),
      resolve: (_root, { ids }, _ctx, _info, resolveNodes) => {
        if (ids.length > MAX_NODE_IDS) throw invalidField('ids', `must be at most ${MAX_NODE_IDS} IDs`);
        return resolveNodes(ids);
      },
    },
  },
  prisma: {
    client: (ctx) => prismaForNodes(ctx.prisma), // rows without their stored values (stored-values.ts)
    dmmf: getDatamodel(),
    exposeDescriptions: false,
  },
});

builder.queryType({ description: "Reads: the viewer's conversations and their messages, models, any object by its ID." });
builder.mutationType({ description: 'Writes: conversations, messages, turns (which start replies), branches, chat sessions.' });
builder.subscriptionType({ description: 'Live: replies as they stream, and changes to conversations (over graphql-ws or SSE).' });

builder.globalConnectionField('totalCount', (t) =>
  t.int({ description: 'How many items the whole list has, across all pages.', resolve: ({ totalCount }, _args, ctx) => (typeof totalCount === 'number' ? totalCount : countRows(ctx, totalCount)) }),
);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 time that exists: no 31 February or 25 o'clock (Date would roll them over), years 1 to 9999. */
function parseDateTime(value: unknown): Date {
  const match = typeof value === 'string' ? RFC3339.exec(value) : null;
  const [year, month, day, hour, minute, second] = (match?.slice(1, 7) ?? []).map(Number);
  const exists =
    match !== null && year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(2000, month, 0)).getUTCDate() && hour <= 23 && minute <= 59 && second <= 59;
  const date = exists ? new Date(value as string) : null;
  const leapDay = month === 2 && day === 29 && new Date(Date.UTC(year, 1, 29)).getUTCMonth() !== 1;
  if (!date || Number.isNaN(date.getTime()) || leapDay || date.getUTCFullYear() > 9999 || date.getUTCFullYear() < 1) {
    throw new GraphQLError('DateTime must be an RFC 3339 time that exists, years 0001 to 9999, such as 2026-01-31T12:00:00.000Z');
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'An RFC 3339 timestamp in UTC with milliseconds, e.g. 2026-01-31T12:00:00.000Z.',
  serialize: (date) => date.toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (node) => parseDateTime(node.kind === Kind.STRING ? node.value : null),
});

function jsonLiteral(node: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => jsonLiteral(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((field) => [field.name.value, jsonLiteral(field.value, variables)]));
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    default:
      throw new GraphQLError('JSON value expected');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: storableJson,
  parseLiteral: (node, variables) => storableJson(jsonLiteral(node, variables)),
});

/**
 * Refuses what could not be stored as given, rather than store something else (walked once: linear in the
 * value): a number past a double's range (1e400 parses as Infinity, which JSON cannot hold: stored, it
 * became null), and a key `__proto__` (dropped on the way to the database, silently).
 */
function storableJson(value: unknown): unknown {
  const pending = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'number' && !Number.isFinite(next)) throw new GraphQLError('JSON numbers must be finite (at most about 1.8e308)');
    if (next === null || typeof next !== 'object') continue;
    if (!Array.isArray(next) && Object.hasOwn(next, '__proto__')) throw new GraphQLError('JSON objects may not have the key "__proto__"');
    for (const item of Array.isArray(next) ? next : Object.values(next)) pending.push(item);
  }
  return value;
}
