// The message box: Enter sends, Shift+Enter breaks the line; while a reply streams, Stop.
import { useState, type KeyboardEvent } from 'react';

type Props = { onSend: (text: string) => Promise<boolean>; onStop: (() => void) | null; disabled: boolean };

export function Composer({ onSend, onStop, disabled }: Props) {
  const [text, setText] = useState('');
  const send = async () => {
    if (!text.trim() || disabled) return;
    if (await onSend(text)) setText('');
  };
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };
  return (
    <form className="composer" onSubmit={(e) => (e.preventDefault(), void send())}>
      <textarea aria-label="Message" placeholder="Message" rows={2} value={text} onChange={(e) => setText(e.target.value)} onKeyDown={onKeyDown} />
      {onStop ? (
        <button type="button" onClick={onStop}>
          Stop
        </button>
      ) : (
        <button type="submit" disabled={disabled || !text.trim()}>
          Send
        </button>
      )}
    </form>
  );
}
