// How many replies one viewer may have streaming on this instance at once. Each holds a connection to its
// model's provider, a provider thread's work and its stream's log for as long as it runs (up to
// REPLY_MAX_SECONDS): without a cap, one user starting a reply a second to a slow model, within the
// generation rate limit, would hold thousands at once.
import type { Viewer } from '../auth.ts';
import { rateLimitedError } from '../errors.ts';
import { PerViewerShares } from '../per-viewer-shares.ts';

/** A viewer's place for one streaming reply: given back once, when the reply ends or if it never starts. */
export type ReplyPlace = { release(): void };

export class StreamingReplies extends PerViewerShares {
  /** A place for one more reply of the viewer; RATE_LIMITED when they hold all theirs. */
  take(viewer: Viewer): ReplyPlace {
    if (!this.hold(viewer, 1)) {
      throw rateLimitedError(`At most ${this.perViewer} replies of one user stream at once: wait for one to end, or cancel one`);
    }
    let held = true;
    return {
      release: () => {
        if (held) this.release(viewer, 1);
        held = false;
      },
    };
  }
}
