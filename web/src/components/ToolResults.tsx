// A reply that ended with tool calls waits for their results: the user plays the tools here (an agent
// would run them), and the next reply starts once they are submitted.
import { useState } from 'react';
import { useMutation } from '@apollo/client/react';
import { SUBMIT_TOOL_RESULTS } from '../operations';
import { describeError } from '../errors';

type ToolCall = { id: string; function: { name: string; arguments: string } };

export function ToolResults({ messageId, calls }: { messageId: string; calls: ToolCall[] }) {
  const [results, setResults] = useState<Record<string, string>>({});
  const [submit, { loading, error }] = useMutation(SUBMIT_TOOL_RESULTS);
  return (
    <form
      className="tool-results"
      aria-label="Tool results"
      onSubmit={(e) => {
        e.preventDefault();
        const answers = calls.map((call) => ({ toolCallId: call.id, content: results[call.id] ?? '' }));
        submit({ variables: { messageId, results: answers } }).catch(() => {});
      }}
    >
      {calls.map((call) => (
        <label key={call.id}>
          Result of {call.function.name}
          <input type="text" value={results[call.id] ?? ''} required onChange={(e) => setResults({ ...results, [call.id]: e.target.value })} />
        </label>
      ))}
      {error && <p role="alert">{describeError(error)}</p>}
      <button type="submit" disabled={loading}>
        Submit results
      </button>
    </form>
  );
}
