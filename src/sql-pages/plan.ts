// Which queries one statement can answer, and how: a document whose operation asks only for the viewer's
// conversations (a list, or one by ID), their fields of src/sql-pages/fields.ts and a page of messages of
// each, with those messages' fields. Anything else (a directive, a field not listed, a selection merged from
// two that differ, a fragment on an interface) leaves the document to the executor. Planned once per
// document and operation; the arguments are read when it runs.
import { Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { CONVERSATION_FIELDS, CONVERSATION_LINKS, MESSAGE_FIELDS, MESSAGE_LINKS, type FieldSql, type LinkSql } from './fields.ts';

/** A selection: its response keys in order, each with what it asks for. */
export type Selected<T> = readonly { key: string; part: T }[];

export type PageInfoPart = 'hasNextPage' | 'hasPreviousPage' | 'startCursor' | 'endCursor' | '__typename';
export type EdgePart<N> = { kind: 'typename' } | { kind: 'cursor' } | { kind: 'node'; node: Selected<N> };
export type ConnectionPart<N> = { kind: 'typename' } | { kind: 'totalCount' } | { kind: 'edges'; edge: Selected<EdgePart<N>> } | { kind: 'pageInfo'; info: Selected<PageInfoPart> };
/** A connection field (its arguments read when it runs) and its selection. */
export type Page<N> = { field: FieldNode; parts: Selected<ConnectionPart<N>> };

/** A node of which only its ID and name are asked for. */
export type LinkPart = { kind: 'link'; link: LinkSql; keys: Selected<'id' | '__typename'> };
export type MessagePart = { kind: 'field'; field: FieldSql } | LinkPart;
export type ConversationPart = MessagePart | { kind: 'messages'; page: Page<MessagePart> };
export type RootPart = { kind: 'typename' } | { kind: 'conversations'; page: Page<ConversationPart> } | { kind: 'conversation'; field: FieldNode; node: Selected<ConversationPart> };

export type Plan = { operation: OperationDefinitionNode; root: Selected<RootPart> };

/** json_build_object takes at most 100 arguments: 50 keys. */
const MAX_KEYS = 50;
const PAGE_INFO = new Set<string>(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename']);

/** The plan of the query named (or the only one), or null when the executor must answer it. */
export function planOf(document: DocumentNode, operationName: string | null | undefined): Plan | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations.length === 1 ? operations[0] : undefined;
  if (operation?.operation !== 'query' || operation.directives?.length) return null;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]));
  const select = <T>(set: SelectionSetNode | undefined, type: string, partOf: (field: FieldNode) => T | null) => selection(set, type, fragments, partOf);

  /** A field of `fields`, or a node of `links` of which only its ID and name are asked for. */
  const fieldOf = (field: FieldNode, fields: Readonly<Record<string, FieldSql>>, links: Readonly<Record<string, LinkSql>>): MessagePart | null => {
    const name = field.name.value;
    if (!Object.hasOwn(links, name)) return Object.hasOwn(fields, name) && bare(field) ? { kind: 'field', field: fields[name] } : null;
    if (field.arguments?.length) return null;
    const link = links[name];
    const keys = select(field.selectionSet, link.type, (g) => (bare(g) && (g.name.value === 'id' || g.name.value === '__typename') ? g.name.value : null));
    return keys && { kind: 'link', link, keys };
  };
  const conversationFields = (set: SelectionSetNode | undefined) => select(set, 'Conversation', conversationPart);
  const conversationPart = (field: FieldNode): ConversationPart | null => {
    if (field.name.value === 'messages') {
      const page = pageOf(field, 'Message', (node) => select(node, 'Message', (f) => fieldOf(f, MESSAGE_FIELDS, MESSAGE_LINKS)));
      return page && { kind: 'messages', page };
    }
    return fieldOf(field, CONVERSATION_FIELDS, CONVERSATION_LINKS);
  };
  const pageOf = <N>(field: FieldNode, type: string, nodeOf: (set: SelectionSetNode | undefined) => Selected<N> | null): Page<N> | null => {
    const parts = select<ConnectionPart<N>>(field.selectionSet, `${type}Connection`, (f) => {
      const name = f.name.value;
      if (name === '__typename' || name === 'totalCount') return bare(f) ? { kind: name === '__typename' ? 'typename' : 'totalCount' } : null;
      if (name === 'pageInfo') {
        const info = select<PageInfoPart>(f.selectionSet, 'PageInfo', (g) => (bare(g) && PAGE_INFO.has(g.name.value) ? (g.name.value as PageInfoPart) : null));
        return info && { kind: 'pageInfo', info };
      }
      if (name !== 'edges' || f.arguments?.length) return null;
      const edge = select<EdgePart<N>>(f.selectionSet, `${type}Edge`, (g) => {
        if (g.name.value === '__typename' || g.name.value === 'cursor') return bare(g) ? { kind: g.name.value === '__typename' ? 'typename' : 'cursor' } : null;
        if (g.name.value !== 'node' || g.arguments?.length) return null;
        const node = nodeOf(g.selectionSet);
        return node && { kind: 'node', node };
      });
      return edge && { kind: 'edges', edge };
    });
    return parts && { field, parts };
  };

  const root = select<RootPart>(operation.selectionSet, 'Query', (field) => {
    const name = field.name.value;
    if (name === '__typename') return bare(field) ? { kind: 'typename' } : null;
    if (name === 'conversations') {
      const page = pageOf(field, 'Conversation', conversationFields);
      return page && { kind: 'conversations', page };
    }
    if (name !== 'conversation') return null;
    const node = conversationFields(field.selectionSet);
    return node && { kind: 'conversation', field, node };
  });
  // A query of nothing but names needs no statement; one that reads a list and a conversation, the executor.
  if (!root?.some(({ part }) => part.kind !== 'typename')) return null;
  return root.filter(({ part }) => part.kind !== 'typename').length === 1 ? { operation, root } : null;
}

/** A field with no arguments and no selection of its own. */
const bare = (field: FieldNode) => !field.arguments?.length && !field.selectionSet;

/**
 * The fields of a selection set on `type`, through fragments on that type, by response key in the order
 * the executor gives them. Null for a directive, a fragment on another type, a key asked for twice but as
 * the same bare field, a field asked for under two keys (but `__typename`), too many keys, or a field
 * `partOf` does not know.
 */
function selection<T>(
  set: SelectionSetNode | undefined,
  type: string,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  partOf: (field: FieldNode) => T | null,
): Selected<T> | null {
  if (!set) return null;
  const fields = new Map<string, FieldNode>();
  const keyOfName = new Map<string, string>();
  const spread = new Set<string>();
  const walk = (selections: SelectionSetNode['selections']): boolean => {
    for (const s of selections) {
      if (s.directives?.length) return false;
      if (s.kind === Kind.FIELD) {
        const key = s.alias?.value ?? s.name.value;
        // A field under a second name: the executor reads it once, and refuses past its limits as each is
        // shown; a statement would build each copy first (thirty aliases of a message's text, thirty texts).
        if (s.name.value !== '__typename' && (keyOfName.get(s.name.value) ?? key) !== key) return false;
        keyOfName.set(s.name.value, key);
        const earlier = fields.get(key);
        if (!earlier) fields.set(key, s);
        else if (!(bare(earlier) && bare(s) && earlier.name.value === s.name.value)) return false;
        continue;
      }
      const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : fragments.get(s.name.value);
      if (!fragment || fragment.directives?.length || (fragment.typeCondition && fragment.typeCondition.name.value !== type)) return false;
      if (s.kind === Kind.FRAGMENT_SPREAD) {
        if (spread.has(s.name.value)) continue; // the executor merges it once
        spread.add(s.name.value);
      }
      if (!walk(fragment.selectionSet.selections)) return false;
    }
    return true;
  };
  if (!walk(set.selections) || fields.size > MAX_KEYS) return null;
  const parts: { key: string; part: T }[] = [];
  for (const [key, field] of fields) {
    const part = partOf(field);
    if (part === null) return null;
    parts.push({ key, part });
  }
  return parts;
}
