// What a field's selection asks for, looked up before resolving it: a resolver can then skip work nobody
// asked for, or do two things in one.
import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/** Whether the selection of the field being resolved has `name` directly (through fragments too). */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const seen = new Set<string>();
  const stack: SelectionSetNode[] = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  while (stack.length) {
    for (const selection of stack.pop()!.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === name) return true;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) stack.push(selection.selectionSet);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = info.fragments[selection.name.value];
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return false;
}
