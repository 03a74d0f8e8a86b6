// ‹ N / M ›: a message's versions (its siblings); switching shows the branch through another one.
import { useMutation } from '@apollo/client/react';
import type { MessageFieldsFragment } from '../gql/graphql';
import { SWITCH_BRANCH } from '../operations';
import { describeError } from '../errors';

/** ‹ N / M ›: the other versions of a message (its siblings); switching shows that version's branch. */
export function BranchPicker({ message }: { message: MessageFieldsFragment }) {
  const [switchBranch, { error }] = useMutation(SWITCH_BRANCH);
  if (message.siblingCount < 2) return null;
  const go = (sibling: { id: string } | null | undefined) => sibling && switchBranch({ variables: { messageId: sibling.id } }).catch(() => {});
  return (
    <span className="versions">
      <button type="button" aria-label="Previous version" disabled={!message.previousSibling} onClick={() => go(message.previousSibling)}>
        ‹
      </button>
      <span>
        {message.siblingIndex} / {message.siblingCount}
      </span>
      <button type="button" aria-label="Next version" disabled={!message.nextSibling} onClick={() => go(message.nextSibling)}>
        ›
      </button>
      {error && <span role="alert">{describeError(error)}</span>}
    </span>
  );
}
