// What a field's selection asks for, looked up before resolving it: a resolver can then skip work nobody
// asked for, or do two things in one.
import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/** Whether the selection of the field being resolved has `name` directly (through fragments too). */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return fieldsAt(info, []).has(name);
}

/**
 * The names of the fields selected at `path` below the field being resolved (`['edges', 'node']`: what a
 * connection's nodes are asked for), through fragments and aliases: a superset, since a type condition or
 * a directive that would leave a field out is not looked into. `unconditional`: only those that no
 * directive (`@skip`, `@include`) could leave out, a subset.
 */
export function fieldsAt(info: GraphQLResolveInfo, path: readonly string[], { unconditional = false } = {}): ReadonlySet<string> {
  return once(info, `at ${path.join('.')}${unconditional ? ' unconditional' : ''}`, () => {
    return new Set(fieldNodesOf(selectionSetsAt(info, path, unconditional), info.fragments, unconditional).map((field) => field.name.value));
  });
}

/** The names of the fields selected anywhere below `path`, at any depth (a superset, as fieldsAt's). */
export function fieldsBelow(info: GraphQLResolveInfo, path: readonly string[]): ReadonlySet<string> {
  return once(info, `below ${path.join('.')}`, () => {
    const names = new Set<string>();
    let level = selectionSetsAt(info, path);
    while (level.length) {
      const fields = fieldNodesOf(level, info.fragments);
      for (const field of fields) names.add(field.name.value);
      level = fields.flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
    }
    return names;
  });
}

/**
 * How many fields the selection below the field being resolved holds, at every depth, each fragment counted
 * where it is spread: what one item of a list resolves when nothing below it is a list. At most `max`.
 */
export function fieldCountBelow(info: GraphQLResolveInfo, max: number): number {
  const known = fieldCounts.get(info.fieldNodes);
  if (known !== undefined) return known;
  let count = 0;
  const stack = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  while (stack.length && count < max) {
    for (const selection of stack.pop()!.selections) {
      if (selection.kind === Kind.FIELD) {
        count++;
        if (selection.selectionSet) stack.push(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (info.fragments[selection.name.value]) stack.push(info.fragments[selection.name.value].selectionSet);
    }
  }
  const bounded = Math.min(count, max);
  fieldCounts.set(info.fieldNodes, bounded);
  return bounded;
}

const fieldCounts = new WeakMap<readonly FieldNode[], number>();

/** A field of a list is resolved once per item, with the same nodes: each look-up is made once for them all. */
function once(info: GraphQLResolveInfo, key: string, lookUp: () => ReadonlySet<string>): ReadonlySet<string> {
  let byKey = lookedUp.get(info.fieldNodes);
  if (!byKey) lookedUp.set(info.fieldNodes, (byKey = new Map()));
  let fields = byKey.get(key);
  if (!fields) byKey.set(key, (fields = lookUp()));
  return fields;
}

/** Keyed by the field's nodes, which belong to one document (its fragments too). */
const lookedUp = new WeakMap<readonly FieldNode[], Map<string, ReadonlySet<string>>>();

/** The selection sets at `path` below the field being resolved. */
function selectionSetsAt(info: GraphQLResolveInfo, path: readonly string[], unconditional = false): SelectionSetNode[] {
  let level = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const name of path) {
    const below: SelectionSetNode[] = [];
    for (const field of fieldNodesOf(level, info.fragments, unconditional)) {
      if (field.name.value === name && field.selectionSet) below.push(field.selectionSet);
    }
    level = below;
  }
  return level;
}

/** The fields of selection sets, fragments spread out (each fragment once); `unconditional`: none that a directive is on. */
function fieldNodesOf(sets: SelectionSetNode[], fragments: Record<string, FragmentDefinitionNode>, unconditional = false) {
  const seen = new Set<string>();
  const stack = [...sets];
  const fields = [];
  while (stack.length) {
    for (const selection of stack.pop()!.selections) {
      if (unconditional && selection.directives?.length) continue;
      if (selection.kind === Kind.FIELD) fields.push(selection);
      else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = fragments[selection.name.value];
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return fields;
}
